using System.CommandLine;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Cli.Commands;

/// <summary>Options several commands share.</summary>
internal static class CommonOptions
{
    public static Option<string?> Model(string description = "Model folder (Hugging Face layout); default: the built-in model") =>
        new("--model", "-m") { Description = description };

    public static Option<string?> Adapter() => new("--adapter", "-a") { Description = "LoRA adapter folder to apply (merged into the weights at load)" };

    public static Option<string?> Quantize() => new("--quantize", "-q") { Description = "Quantize the matrices at load time for faster decoding: int8, q4 or bf16" };

    public static Option<int?> Threads() => new("--threads")
    {
        Description = "Worker threads (default: SHARPGPT_THREADS or the number of physical cores)",
        Validators = { r => { if (r.GetValueOrDefault<int?>() is < 1) r.AddError("--threads must be at least 1."); } },
    };

    public static void ApplyThreads(ParseResult parse, Option<int?> threads)
    {
        if (parse.GetValue(threads) is int count)
        {
            WorkerPool.ConfigureShared(count);
        }
    }

    /// <summary>Parses "1,2,3" into token ids.</summary>
    public static int[] ParseIds(string text)
    {
        try
        {
            return text.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"'{text}' is not a comma-separated list of token ids.");
        }
    }
}
