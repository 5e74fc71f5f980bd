using System.CommandLine;
using System.Text.Json;
using SharpGpt.Cli.Bench;
using SharpGpt.Model;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Tensors.Threading;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt bench`: engine throughput on a preset's shapes with random weights.</summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter output)
    {
        var preset = new Option<string>("--preset", "-p") { Description = "Shapes to benchmark", DefaultValueFactory = _ => "gpt2" };
        var configFile = new Option<string?>("--config") { Description = "Shapes from a SharpGPT config JSON instead of a preset" };
        var modelDir = new Option<string?>("--model", "-m") { Description = "Shapes from a model folder's config.json (weights are random), e.g. models/sharpgpt-default" };
        var quick = new Option<bool>("--quick") { Description = "Smaller, faster run (smoke test)" };
        var batch = new Option<int>("--batch") { Description = "Training batch", DefaultValueFactory = _ => 4 };
        var time = new Option<int>("--time") { Description = "Training sequence length", DefaultValueFactory = _ => 256 };
        var prompt = new Option<int>("--prompt") { Description = "Prefill prompt length", DefaultValueFactory = _ => 256 };
        var decode = new Option<int>("--decode") { Description = "Tokens to decode", DefaultValueFactory = _ => 64 };
        var json = new Option<string?>("--json") { Description = "Also write the results to this JSON file" };
        var compare = new Option<bool>("--compare") { Description = "Also measure OpenBLAS sgemm and PyTorch (plain and tuned) in the same run and print ratios" };
        var profile = new Option<bool>("--profile") { Description = "Also print where a training step and a decoding step spend their time, per kind of kernel" };
        var threads = CommonOptions.Threads();
        var command = new Command("bench", "Measure GEMM GFLOP/s, training, prefill and decode throughput, and peak memory.")
        {
            preset, configFile, modelDir, quick, batch, time, prompt, decode, json, compare, profile, threads,
        };
        command.SetAction(parse =>
        {
            CommonOptions.ApplyThreads(parse, threads);
            GptConfig config = parse.GetValue(configFile) is string file ? ConfigJson.Load(file)
                : parse.GetValue(modelDir) is string dir ? HfConfig.Read(Path.Combine(dir, HfModelLoader.ConfigFile))
                : GptPresets.Get(parse.GetValue(preset)!);
            bool isQuick = parse.GetValue(quick);
            int b = isQuick ? 1 : parse.GetValue(batch), t = isQuick ? 64 : parse.GetValue(time);
            int p = isQuick ? 64 : parse.GetValue(prompt), d = isQuick ? 8 : parse.GetValue(decode);
            if (b < 1 || t < 1 || t > config.ContextLength || p < 1 || p > config.ContextLength - 8 || d < 1)
            {
                throw new ArgumentException($"batch, time, prompt and decode must be positive and fit the context of {config.ContextLength}.");
            }
            output.WriteLine($"SharpGPT bench: {config.Name} shapes, {WorkerPool.Shared.ThreadCount} threads, {PhysicalCores.Count()} physical cores, " +
                $"{(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512" : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2" : "scalar")}{(isQuick ? ", quick" : "")}");
            Action<string> log = line => Console.Error.WriteLine("  " + line);
            Dictionary<string, double>? blas = null;
            if (parse.GetValue(compare))
            {
                string? library = OpenBlas.TryLoad(WorkerPool.Shared.ThreadCount);
                blas = library != null ? [] : null;
                log(library != null ? $"OpenBLAS: {library}, timed alternately with SharpGPT's GEMM" : "OpenBLAS not found (apt-get install libopenblas0-pthread); skipping it.");
            }
            var results = new List<BenchResult>();
            foreach (BenchResult result in new EngineBenchmark(config, isQuick, log) { Profile = parse.GetValue(profile), OpenBlasGflops = blas }.Run(b, t, p, d))
            {
                results.Add(result);
                output.WriteLine($"{result.Name,-44} {result.Value,10:F1} {result.Unit,-9} {result.Detail}");
            }
            var references = new Dictionary<string, object?>();
            if (parse.GetValue(compare))
            {
                int threadCount = WorkerPool.Shared.ThreadCount;
                string? script = CompareBenchmark.FindScript();
                var torch = script == null ? null : CompareBenchmark.PyTorch(script, threadCount, isQuick, tuned: false, log);
                var tuned = script == null ? null : CompareBenchmark.PyTorch(script, threadCount, isQuick, tuned: true, log);
                references["openblas"] = blas;
                references["pytorch"] = torch;
                references["pytorch_tuned"] = tuned;
                output.WriteLine();
                output.WriteLine($"{"metric",-44} {"SharpGPT",10} {"OpenBLAS",10} {"PyTorch",10} {"tuned",10} {"vs best ref",12}");
                foreach (BenchResult result in results.Where(r => r.Unit != "GiB" || r.Name.StartsWith("training", StringComparison.Ordinal)))
                {
                    double? blasValue = result.Name.StartsWith("gemm ", StringComparison.Ordinal) && blas != null
                        ? blas.GetValueOrDefault(result.Name.Split(' ')[1]) : null;
                    string key = result.Name.StartsWith("gemm ", StringComparison.Ordinal) ? "gemm " + result.Name.Split(' ')[1]
                        : result.Name.StartsWith("training peak memory", StringComparison.Ordinal) ? "training peak memory GiB"
                        : result.Name.StartsWith("training", StringComparison.Ordinal) ? "training tokens/s"
                        : result.Name.StartsWith("prefill (", StringComparison.Ordinal) ? "prefill tokens/s"
                        : result.Name.Contains("fp32 weights") ? "decode tokens/s" : "";
                    double? Read(System.Text.Json.JsonElement? e) => e is { } v && key.Length > 0 && v.TryGetProperty(key, out var p) ? p.GetDouble() : null;
                    double? plain = Read(torch), best = Read(tuned);
                    // Memory: the best reference is the smallest, and a ratio below 1 means SharpGPT needs less.
                    double?[] candidates = [blasValue, plain, best];
                    double? reference = result.Unit == "GiB" ? candidates.Where(v => v != null).Min() : candidates.Where(v => v != null).Max();
                    output.WriteLine($"{result.Name,-44} {result.Value,10:F1} {Cell(blasValue)} {Cell(plain)} {Cell(best)} " +
                        (reference is double r ? $"{result.Value / r,11:F2}x" : $"{"-",12}"));
                }
            }
            if (parse.GetValue(json) is string path)
            {
                File.WriteAllText(path, JsonSerializer.Serialize(new
                {
                    date = DateTime.UtcNow.ToString("yyyy-MM-dd"),
                    preset = config.Name,
                    threads = WorkerPool.Shared.ThreadCount,
                    results,
                    references,
                }, new JsonSerializerOptions { WriteIndented = true }));
            }
            return 0;
        });
        return command;
    }

    private static string Cell(double? value) => value is double v ? $"{v,10:F1}" : $"{"-",10}";
}
