using System.CommandLine;
using SharpGpt.Model.Tokenization;
using SharpGpt.Training.FineTuning;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt convert`: turn a task dataset into {"prompt","completion"} JSONL for `finetune`.</summary>
internal static class ConvertCommand
{
    public static Command Create(TextWriter output)
    {
        var format = new Option<string>("--format", "-f") { Description = "Input format: multixscience (CiteBench JSON)", DefaultValueFactory = _ => "multixscience" };
        var input = new Option<string>("--input", "-i") { Description = "Input file", Required = true };
        var outFile = new Option<string>("--out", "-o") { Description = "Output JSONL file", Required = true };
        var context = new Option<int>("--context") { Description = "Context length of the model to fine-tune: prompts are budgeted to fit", DefaultValueFactory = _ => 1024 };
        var command = new Command("convert", "Convert a task dataset into {\"prompt\",\"completion\"} JSONL records for `finetune`.")
        {
            format, input, outFile, context,
        };
        command.SetAction(parse =>
        {
            if (!string.Equals(parse.GetValue(format), "multixscience", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"Unknown format '{parse.GetValue(format)}'; supported: multixscience.");
            }
            int tokens = parse.GetValue(context);
            if (tokens < 64)
            {
                throw new ArgumentException("--context must be at least 64 tokens.");
            }
            var conversions = MultiXScience.ConvertFile(Gpt2Tokenizer.Default, parse.GetValue(input)!, parse.GetValue(outFile)!, tokens);
            output.WriteLine($"{conversions.Count} records → {parse.GetValue(outFile)}: prompts {conversions.Average(c => c.PromptTokens):F0} tokens on average " +
                $"({conversions.Count(c => c.Truncated)} with abstracts cut to fit {tokens} tokens), completions {conversions.Average(c => c.CompletionTokens):F0} tokens");
            return 0;
        });
        return command;
    }
}
