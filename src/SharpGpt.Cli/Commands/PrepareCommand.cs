using System.CommandLine;
using SharpGpt.Model.Tokenization;
using SharpGpt.Training.Data;
using Spectre.Console;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt prepare`: tokenize a corpus once into token shards with a train/validation split.</summary>
internal static class PrepareCommand
{
    public static Command Create(TextWriter output)
    {
        var input = new Option<string[]>("--input", "-i") { Description = "Text files, .jsonl, .parquet, or folders of them", Required = true, AllowMultipleArgumentsPerToken = true };
        var outDir = new Option<string>("--out", "-o") { Description = "Output folder for shards and manifest.json", Required = true };
        var validation = new Option<double>("--val-fraction") { Description = "Share of tokens held out for validation", DefaultValueFactory = _ => 0.05 };
        var block = new Option<int>("--val-block") { Description = "Tokens per train/validation block", DefaultValueFactory = _ => 8192 };
        var field = new Option<string>("--text-field") { Description = "JSONL field / Parquet column with the text", DefaultValueFactory = _ => "text" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the split", DefaultValueFactory = _ => 1234 };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Folder with tokenizer files (default: the built-in GPT-2 tokenizer)" };
        var command = new Command("prepare", "Tokenize a corpus into binary token shards with a train/validation split and a manifest.")
        {
            input, outDir, validation, block, field, seed, tokenizer,
        };
        command.SetAction(parse =>
        {
            Gpt2Tokenizer tok = parse.GetValue(tokenizer) is string dir ? Gpt2Tokenizer.FromDirectory(dir) : Gpt2Tokenizer.Default;
            var options = new PrepareOptions
            {
                Inputs = parse.GetValue(input)!,
                Output = parse.GetValue(outDir)!,
                ValidationFraction = parse.GetValue(validation),
                ValidationBlockTokens = parse.GetValue(block),
                TextField = parse.GetValue(field)!,
                Seed = parse.GetValue(seed),
            };
            DatasetManifest manifest = null!;
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(context =>
                {
                    ProgressTask task = context.AddTask("tokenizing", maxValue: 1);
                    var progress = new SynchronousProgress<PrepareProgress>(p =>
                    {
                        task.MaxValue = Math.Max(1, p.BytesTotal);
                        task.Value = p.BytesDone;
                        task.Description = $"{Path.GetFileName(p.CurrentFile),-24} {p.Tokens / Math.Max(p.Seconds, 1e-3) / 1000:F0}K tok/s";
                    });
                    manifest = new DataPreparer(tok).Prepare(options, progress, warning => Console.Error.WriteLine($"warning: {warning}"));
                    task.Value = task.MaxValue;
                });
            output.WriteLine($"{manifest.Sources.Count} files, {manifest.Sources.Sum(s => s.Documents):N0} documents, {manifest.Sources.Sum(s => s.Bytes) / 1e6:F1} MB → " +
                $"{manifest.Train.Tokens:N0} train and {manifest.Validation.Tokens:N0} validation tokens ({manifest.BytesPerToken * 8}-bit) in {options.Output}");
            return 0;
        });
        return command;
    }
}

/// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
