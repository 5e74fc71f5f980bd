using System.Text.Json;
using SharpGpt.Model;

namespace SharpGpt.Evaluation.Tasks;

/// <summary>
/// Reads evaluation items from the files public benchmarks ship as: MosaicML llm-foundry's local eval JSONL
/// (multiple choice {"query","choices","gold"}, HellaSwag {"query","endings","label"}, schema
/// {"context_options","continuation","gold"}, language modelling {"context","continuation"}, and
/// {"context","answer"|"completion"} for generation), GLUE-style TSV (SST-2: sentence, label), and the
/// StoryCloze CSV (InputSentence1–4, RandomFifthSentenceQuiz1–2, AnswerRightEnding).
/// </summary>
public static class TaskReader
{
    public static IReadOnlyList<EvalItem> Read(string path, TaskKind kind) => Read(File.ReadAllText(path), path, kind);

    public static IReadOnlyList<EvalItem> Read(string content, string source, TaskKind kind)
    {
        string extension = Path.GetExtension(source).ToLowerInvariant();
        return extension switch
        {
            ".tsv" => ReadTsv(content, source),
            ".csv" => ReadStoryClozeCsv(content, source),
            _ => ReadJsonl(content, source, kind),
        };
    }

    /// <summary>Guesses the task kind from the first record's fields (for user task files).</summary>
    public static TaskKind InferKind(string path)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is ".tsv" or ".csv")
        {
            return TaskKind.MultipleChoice;
        }
        string? first = File.ReadLines(path).FirstOrDefault(l => l.Trim().Length > 0)
            ?? throw new SharpGptException($"{path}: the task file is empty.");
        using JsonDocument document = Parse(first, $"{path}:1");
        JsonElement root = document.RootElement;
        if (root.TryGetProperty("context_options", out _))
        {
            return TaskKind.PartialScoring;
        }
        if (root.TryGetProperty("choices", out _) || root.TryGetProperty("endings", out _))
        {
            return TaskKind.MultipleChoice;
        }
        if (root.TryGetProperty("answer", out _) || root.TryGetProperty("answers", out _) || root.TryGetProperty("completion", out _))
        {
            return TaskKind.Generation;
        }
        if (root.TryGetProperty("continuation", out _))
        {
            return TaskKind.LanguageModeling;
        }
        throw new SharpGptException($"{path}:1: cannot tell the task type; see the README for the task file format.");
    }

    private static IReadOnlyList<EvalItem> ReadJsonl(string content, string source, TaskKind kind)
    {
        var items = new List<EvalItem>();
        int line = 0;
        foreach (string raw in content.Split('\n'))
        {
            line++;
            if (raw.Trim().Length == 0)
            {
                continue;
            }
            string where = $"{source}:{line}";
            using JsonDocument document = Parse(raw, where);
            JsonElement r = document.RootElement;
            int index = items.Count;
            items.Add(kind switch
            {
                TaskKind.MultipleChoice => MultipleChoice(r, index, where),
                TaskKind.PartialScoring => EvalItem.Partial(index, Strings(r, where, "context_options"), String(r, where, "continuation"), Gold(r, where, "gold", 2)),
                TaskKind.LanguageModeling => EvalItem.Completion(index, String(r, where, "context"), String(r, where, "continuation")),
                _ => EvalItem.Completion(index, String(r, where, "context", "query", "question"), Answer(r, where)),
            });
        }
        if (items.Count == 0)
        {
            throw new SharpGptException($"{source}: no items.");
        }
        return items;
    }

    private static EvalItem MultipleChoice(JsonElement r, int index, string where)
    {
        string query = String(r, where, "query", "context", "ctx", "question");
        string[] choices = Strings(r, where, "choices", "endings");
        if (choices.Length < 2)
        {
            throw new SharpGptException($"{where}: a multiple-choice item needs at least two choices.");
        }
        return EvalItem.MultipleChoice(index, query, choices, Gold(r, where, r.TryGetProperty("gold", out _) ? "gold" : "label", choices.Length));
    }

    private static string Answer(JsonElement r, string where)
    {
        if (r.TryGetProperty("answers", out JsonElement answers) && answers.ValueKind == JsonValueKind.Array && answers.GetArrayLength() > 0)
        {
            return answers[0].GetString() ?? throw new SharpGptException($"{where}: \"answers\" must hold strings.");
        }
        return String(r, where, "completion", "answer");
    }

    private static JsonDocument Parse(string line, string where)
    {
        try
        {
            JsonDocument document = JsonDocument.Parse(line);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document.Dispose();
                throw new SharpGptException($"{where}: expected a JSON object.");
            }
            return document;
        }
        catch (JsonException ex)
        {
            throw new SharpGptException($"{where}: invalid JSON ({ex.Message}).", ex);
        }
    }

    private static string String(JsonElement r, string where, params string[] names)
    {
        foreach (string name in names)
        {
            if (r.TryGetProperty(name, out JsonElement value))
            {
                return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw new SharpGptException($"{where}: \"{name}\" must be a string.");
            }
        }
        throw new SharpGptException($"{where}: missing \"{names[0]}\".");
    }

    private static string[] Strings(JsonElement r, string where, params string[] names)
    {
        foreach (string name in names)
        {
            if (r.TryGetProperty(name, out JsonElement value))
            {
                if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
                {
                    throw new SharpGptException($"{where}: \"{name}\" must be an array of strings.");
                }
                return value.EnumerateArray().Select(v => v.GetString()!).ToArray();
            }
        }
        throw new SharpGptException($"{where}: missing \"{names[0]}\".");
    }

    private static int Gold(JsonElement r, string where, string name, int choices)
    {
        if (!r.TryGetProperty(name, out JsonElement value) || !value.TryGetInt32(out int gold) && !(value.ValueKind == JsonValueKind.String && int.TryParse(value.GetString(), out gold)))
        {
            throw new SharpGptException($"{where}: missing or non-integer \"{name}\".");
        }
        if (gold < 0 || gold >= choices)
        {
            throw new SharpGptException($"{where}: \"{name}\" {gold} is not one of the {choices} choices.");
        }
        return gold;
    }

    /// <summary>sentence&lt;TAB&gt;label with a header row; label 1 = positive. Rendered with choices "negative"/"positive".</summary>
    private static IReadOnlyList<EvalItem> ReadTsv(string content, string source)
    {
        var items = new List<EvalItem>();
        string[] lines = content.Split('\n');
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }
            string[] fields = line.Split('\t');
            if (fields.Length < 2 || !int.TryParse(fields[^1].Trim(), out int label) || label is not (0 or 1))
            {
                throw new SharpGptException($"{source}:{i + 1}: expected 'sentence<TAB>label' with label 0 or 1.");
            }
            items.Add(EvalItem.MultipleChoice(items.Count, fields[0].Trim(), ["negative", "positive"], label));
        }
        return items;
    }

    private static IReadOnlyList<EvalItem> ReadStoryClozeCsv(string content, string source)
    {
        string[] lines = content.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray();
        if (lines.Length < 2)
        {
            throw new SharpGptException($"{source}: no rows.");
        }
        string[] header = SplitCsv(lines[0]);
        int Column(string name) => Array.IndexOf(header, name) is int i and >= 0 ? i : throw new SharpGptException($"{source}: missing column {name}.");
        int[] sentences = Enumerable.Range(1, 4).Select(n => Column($"InputSentence{n}")).ToArray();
        int quiz1 = Column("RandomFifthSentenceQuiz1"), quiz2 = Column("RandomFifthSentenceQuiz2"), answer = Column("AnswerRightEnding");
        var items = new List<EvalItem>();
        for (int i = 1; i < lines.Length; i++)
        {
            string[] f = SplitCsv(lines[i]);
            if (f.Length < header.Length || !int.TryParse(f[answer], out int right) || right is not (1 or 2))
            {
                throw new SharpGptException($"{source}:{i + 1}: malformed StoryCloze row.");
            }
            items.Add(EvalItem.MultipleChoice(items.Count, string.Join(' ', sentences.Select(s => f[s])), [f[quiz1], f[quiz2]], right - 1));
        }
        return items;
    }

    /// <summary>RFC 4180 fields: commas separate, double quotes quote, "" is a quote.</summary>
    private static string[] SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }
        fields.Add(current.ToString());
        return [.. fields];
    }
}
