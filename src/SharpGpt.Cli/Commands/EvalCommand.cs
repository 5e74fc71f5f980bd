using System.CommandLine;
using SharpGpt.Evaluation;
using SharpGpt.Evaluation.Tasks;
using SharpGpt.Inference;
using Spectre.Console;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt eval`: zero-, one- and few-shot evaluation as in the GPT-3 paper.</summary>
internal static class EvalCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CommonOptions.Model();
        var adapter = CommonOptions.Adapter();
        var quantize = CommonOptions.Quantize();
        var task = new Option<string[]>("--task", "-t")
        {
            Description = $"Built-in task ({string.Join(", ", TaskCatalog.Names)}, or 'all') or a task JSONL file; repeatable",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var data = new Option<string?>("--data") { Description = "The task's data file (default: the bundled 40-item sample)" };
        var train = new Option<string?>("--train") { Description = "File to draw demonstrations from (default: the task's train split, else the data file)" };
        var shots = new Option<string>("--shots", "-k") { Description = "Comma-separated shot counts, e.g. 0,1,5", DefaultValueFactory = _ => "0" };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N examples" };
        var seed = new Option<ulong>("--seed") { Description = "Seed for drawing demonstrations", DefaultValueFactory = _ => 1234 };
        var format = new Option<string>("--format") { Description = "gpt3 or lm-eval (prompt and metric conventions)", DefaultValueFactory = _ => "lm-eval" };
        var outFile = new Option<string?>("--out") { Description = "Write results with every example's prompt and log-likelihoods to this JSON file" };
        var threads = CommonOptions.Threads();
        var command = new Command("eval", "Evaluate zero-, one- and few-shot performance on benchmark tasks, as in the GPT-3 paper.")
        {
            model, adapter, quantize, task, data, train, shots, limit, seed, format, outFile, threads,
        };
        command.SetAction((parse, cancellation) =>
        {
            CommonOptions.ApplyThreads(parse, threads);
            int[] shotCounts = ParseShots(parse.GetValue(shots)!);
            EvalFormat evalFormat = parse.GetValue(format)!.ToLowerInvariant() switch
            {
                "gpt3" or "gpt-3" => EvalFormat.Gpt3,
                "lm-eval" or "lmeval" or "lm_eval" => EvalFormat.LmEval,
                var other => throw new ArgumentException($"unknown format '{other}' (use gpt3 or lm-eval)."),
            };
            string[] names = parse.GetValue(task)!.SelectMany(t => t == "all" ? TaskCatalog.Names.Where(n => n != "storycloze") : [t]).ToArray();
            if (parse.GetValue(data) != null && names.Length > 1)
            {
                throw new ArgumentException("--data applies to one task at a time.");
            }
            if (parse.GetValue(limit) is < 1)
            {
                throw new ArgumentException("--limit must be at least 1.");
            }
            var tasks = names.Select(n => TaskCatalog.Load(n, parse.GetValue(data), parse.GetValue(train))).ToList();
            var options = new EvalOptions { Shots = shotCounts, Limit = parse.GetValue(limit), Seed = parse.GetValue(seed), Format = evalFormat };
            using LanguageModel language = LanguageModel.LoadOrDefault(parse.GetValue(model), parse.GetValue(adapter), LanguageModel.ParseQuantization(parse.GetValue(quantize)));
            using var runner = new EvalRunner(language);
            foreach (LoadedTask t in tasks)
            {
                Console.Error.WriteLine($"{t.Task.Name}: {t.DataSource}");
            }
            var results = new List<TaskResult>();
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    foreach (LoadedTask t in tasks)
                    {
                        foreach (int k in shotCounts)
                        {
                            int total = Math.Min(t.Items.Count, options.Limit ?? int.MaxValue);
                            ProgressTask bar = context.AddTask($"{t.Task.Name} k={k}", maxValue: total);
                            var progress = new SynchronousProgress<EvalProgress>(p =>
                            {
                                bar.Value = p.Done;
                                bar.Description = $"{t.Task.Name} k={k} {p.Done / Math.Max(p.Seconds, 1e-3):F1} ex/s";
                            });
                            results.Add(runner.Run(t, k, options, progress, cancellation));
                        }
                    }
                });
            EvalReport.PrintTable(output, results);
            if (parse.GetValue(outFile) is string path)
            {
                EvalReport.WriteJson(path, language.Source, options, results);
                output.WriteLine($"per-example results written to {path}");
            }
            return Task.FromResult(0);
        });
        return command;
    }

    private static int[] ParseShots(string text)
    {
        try
        {
            int[] shots = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).Distinct().ToArray();
            if (shots.Length == 0 || shots.Any(k => k < 0))
            {
                throw new FormatException();
            }
            return shots;
        }
        catch (FormatException)
        {
            throw new ArgumentException($"--shots '{text}' must be comma-separated non-negative integers.");
        }
    }
}
