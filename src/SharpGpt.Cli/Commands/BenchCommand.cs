using System.CommandLine;
using System.Text.Json;
using SharpGpt.Cli.Bench;
using SharpGpt.Model;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt bench`: engine throughput on a preset's shapes with random weights.</summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter output)
    {
        var preset = new Option<string>("--preset", "-p") { Description = "Shapes to benchmark", DefaultValueFactory = _ => "gpt2" };
        var quick = new Option<bool>("--quick") { Description = "Smaller, faster run (smoke test)" };
        var batch = new Option<int>("--batch") { Description = "Training batch", DefaultValueFactory = _ => 4 };
        var time = new Option<int>("--time") { Description = "Training sequence length", DefaultValueFactory = _ => 256 };
        var prompt = new Option<int>("--prompt") { Description = "Prefill prompt length", DefaultValueFactory = _ => 256 };
        var decode = new Option<int>("--decode") { Description = "Tokens to decode", DefaultValueFactory = _ => 64 };
        var json = new Option<string?>("--json") { Description = "Also write the results to this JSON file" };
        var threads = CommonOptions.Threads();
        var command = new Command("bench", "Measure GEMM GFLOP/s, training, prefill and decode throughput, and peak memory.")
        {
            preset, quick, batch, time, prompt, decode, json, threads,
        };
        command.SetAction(parse =>
        {
            CommonOptions.ApplyThreads(parse, threads);
            GptConfig config = GptPresets.Get(parse.GetValue(preset)!);
            bool isQuick = parse.GetValue(quick);
            int b = isQuick ? 1 : parse.GetValue(batch), t = isQuick ? 64 : parse.GetValue(time);
            int p = isQuick ? 64 : parse.GetValue(prompt), d = isQuick ? 8 : parse.GetValue(decode);
            if (b < 1 || t < 1 || t > config.ContextLength || p < 1 || p > config.ContextLength - 8 || d < 1)
            {
                throw new ArgumentException($"batch, time, prompt and decode must be positive and fit the context of {config.ContextLength}.");
            }
            output.WriteLine($"SharpGPT bench: {config.Name} shapes, {WorkerPool.Shared.ThreadCount} threads, {Environment.ProcessorCount} cores, " +
                $"{(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512" : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2" : "scalar")}{(isQuick ? ", quick" : "")}");
            var results = new List<BenchResult>();
            foreach (BenchResult result in new EngineBenchmark(config, isQuick, line => Console.Error.WriteLine("  " + line)).Run(b, t, p, d))
            {
                results.Add(result);
                output.WriteLine($"{result.Name,-44} {result.Value,10:F1} {result.Unit,-9} {result.Detail}");
            }
            if (parse.GetValue(json) is string path)
            {
                File.WriteAllText(path, JsonSerializer.Serialize(new
                {
                    date = DateTime.UtcNow.ToString("yyyy-MM-dd"),
                    preset = config.Name,
                    threads = WorkerPool.Shared.ThreadCount,
                    results,
                }, new JsonSerializerOptions { WriteIndented = true }));
            }
            return 0;
        });
        return command;
    }
}
