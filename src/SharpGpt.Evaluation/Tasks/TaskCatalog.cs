using System.Reflection;
using SharpGpt.Model;

namespace SharpGpt.Evaluation.Tasks;

/// <summary>A task ready to run: its definition, the items to score and the pool demonstrations come from.</summary>
public sealed record LoadedTask(EvalTask Task, IReadOnlyList<EvalItem> Items, IReadOnlyList<EvalItem> DemonstrationPool, bool PoolIsEvaluatedFile, string DataSource);

/// <summary>
/// The built-in tasks with the GPT-3 paper's and lm-evaluation-harness's formats (reference.md), each with a
/// bundled 40-item sample; any of them runs on the full public file with --data. A path instead of a name is a
/// user task file in the generic format.
/// </summary>
public static class TaskCatalog
{
    private const string ResourcePrefix = "SharpGpt.EvalSamples.";

    private static readonly Dictionary<string, (EvalTask Task, string? Sample, string? TrainSample)> BuiltIn = new(StringComparer.OrdinalIgnoreCase)
    {
        ["lambada"] = (new EvalTask { Name = "lambada", Kind = TaskKind.LanguageModeling }, "lambada_openai.jsonl", null),
        ["lambada_cloze"] = (new EvalTask { Name = "lambada_cloze", Kind = TaskKind.LanguageModeling, FillInTheBlank = true, ExampleDelimiter = "\n" }, "lambada_openai.jsonl", null),
        ["hellaswag"] = (new EvalTask { Name = "hellaswag", Kind = TaskKind.MultipleChoice }, "hellaswag.jsonl", null),
        ["piqa"] = (new EvalTask { Name = "piqa", Kind = TaskKind.MultipleChoice, QuerySuffix = "Answer:" }, "piqa.jsonl", null),
        ["sst2"] = (new EvalTask
        {
            Name = "sst2", Kind = TaskKind.MultipleChoice, QuerySuffix = "\nQuestion: Is this sentence positive or negative?\nAnswer:",
            Demonstrations = DemonstrationSource.Train,
        }, "sst2_dev.tsv", "sst2_train_first2000.tsv"),
        ["arc_easy"] = (new EvalTask { Name = "arc_easy", Kind = TaskKind.MultipleChoice, QuerySuffix = "\nAnswer:", UnconditionalContext = "Answer:" }, "arc_easy.jsonl", null),
        ["arc_challenge"] = (new EvalTask { Name = "arc_challenge", Kind = TaskKind.MultipleChoice, QuerySuffix = "\nAnswer:", UnconditionalContext = "Answer:" }, "arc_challenge.jsonl", null),
        ["openbookqa"] = (new EvalTask { Name = "openbookqa", Kind = TaskKind.MultipleChoice, UnconditionalContext = "Answer:" }, "openbook_qa.jsonl", null),
        ["winogrande"] = (new EvalTask { Name = "winogrande", Kind = TaskKind.PartialScoring }, "winogrande.jsonl", null),
        ["boolq"] = (new EvalTask { Name = "boolq", Kind = TaskKind.MultipleChoice, QuerySuffix = "\nAnswer:" }, "boolq.jsonl", null),
        ["copa"] = (new EvalTask { Name = "copa", Kind = TaskKind.MultipleChoice }, "copa.jsonl", null),
        ["storycloze"] = (new EvalTask { Name = "storycloze", Kind = TaskKind.MultipleChoice }, null, null),
        ["arithmetic"] = (new EvalTask
        {
            Name = "arithmetic", Kind = TaskKind.Generation, ContinuationDelimiter = "", ExampleDelimiter = "", MaxGeneratedTokens = 8,
        }, "gpt3_two_digit_addition.jsonl", null),
    };

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["lambada_openai"] = "lambada",
        ["arc-easy"] = "arc_easy",
        ["arc-challenge"] = "arc_challenge",
        ["openbook_qa"] = "openbookqa",
        ["obqa"] = "openbookqa",
        ["story_cloze"] = "storycloze",
        ["gpt3_two_digit_addition"] = "arithmetic",
        ["sst-2"] = "sst2",
    };

    public static IReadOnlyList<string> Names => [.. BuiltIn.Keys.Order(StringComparer.Ordinal)];

    /// <summary>
    /// Loads a built-in task (bundled sample unless <paramref name="data"/> is given) or a task file.
    /// <paramref name="train"/> overrides the demonstration pool.
    /// </summary>
    public static LoadedTask Load(string nameOrPath, string? data = null, string? train = null)
    {
        string name = Aliases.GetValueOrDefault(nameOrPath, nameOrPath);
        if (BuiltIn.TryGetValue(name, out var entry))
        {
            IReadOnlyList<EvalItem> items;
            string source;
            if (data != null)
            {
                items = TaskReader.Read(RequireFile(data), entry.Task.Kind);
                source = data;
            }
            else if (entry.Sample != null)
            {
                items = TaskReader.Read(Resource(entry.Sample), entry.Sample, entry.Task.Kind);
                source = $"bundled sample {entry.Sample} ({items.Count} items; pass --data for the full set)";
            }
            else
            {
                throw new SharpGptException($"Task {name} has no bundled sample; pass its data file with --data.");
            }
            return WithPool(entry.Task, items, source, train, entry.Task.Demonstrations == DemonstrationSource.Train && train == null && data == null ? entry.TrainSample : null);
        }
        if (File.Exists(nameOrPath))
        {
            TaskKind kind = TaskReader.InferKind(nameOrPath);
            var task = new EvalTask
            {
                Name = Path.GetFileNameWithoutExtension(nameOrPath),
                Kind = kind,
                ContinuationDelimiter = kind == TaskKind.Generation ? "" : " ",
            };
            return WithPool(task, TaskReader.Read(nameOrPath, kind), nameOrPath, train, null);
        }
        throw new SharpGptException($"Unknown task '{nameOrPath}' (and no such file). Built-in tasks: {string.Join(", ", Names)}.");
    }

    private static LoadedTask WithPool(EvalTask task, IReadOnlyList<EvalItem> items, string source, string? trainFile, string? trainResource)
    {
        if (trainFile != null)
        {
            return new LoadedTask(task, items, TaskReader.Read(RequireFile(trainFile), task.Kind), false, source);
        }
        if (trainResource != null)
        {
            return new LoadedTask(task, items, TaskReader.Read(Resource(trainResource), trainResource, task.Kind), false, source);
        }
        return new LoadedTask(task, items, items, true, source);
    }

    private static string RequireFile(string path) =>
        File.Exists(path) ? path : throw new SharpGptException($"Task data '{path}' does not exist.");

    private static string Resource(string file)
    {
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourcePrefix + file)
            ?? throw new InvalidOperationException($"The bundled eval sample {file} is missing.");
        using StreamReader reader = new(stream);
        return reader.ReadToEnd();
    }
}
