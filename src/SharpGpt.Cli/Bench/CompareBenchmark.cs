using System.Diagnostics;
using System.Text.Json;
using SharpGpt.Tensors.Kernels.Gemm;
using SharpGpt.Tensors.Memory;

namespace SharpGpt.Cli.Bench;

/// <summary>
/// The references of `sharpgpt bench --compare`, measured in the same run: OpenBLAS sgemm (in process, same
/// buffers, same shapes) and PyTorch on Debian's python3-torch, plain and tuned (jemalloc + SkylakeX kernels).
/// </summary>
internal static unsafe class CompareBenchmark
{
    /// <summary>GFLOP/s of OpenBLAS on the forward shapes (M rows), or null when OpenBLAS is not installed.</summary>
    public static Dictionary<string, double>? OpenBlasGemm(int rows, int embedding, int feedForward, int threads, Action<string> log)
    {
        string? library = OpenBlas.TryLoad(threads);
        if (library == null)
        {
            log("OpenBLAS not found (apt-get install libopenblas0-pthread); skipping it.");
            return null;
        }
        var results = new Dictionary<string, double>();
        foreach ((string name, int n, int k) in new[] { ("qkv", 3 * embedding, embedding), ("attn.proj", embedding, embedding), ("mlp.fc", feedForward, embedding), ("mlp.proj", embedding, feedForward) })
        {
            using var a = new NativeBuffer((long)rows * k);
            using var b = new NativeBuffer((long)n * k);
            using var c = new NativeBuffer((long)rows * n);
            for (long i = 0; i < a.Length; i++)
            {
                a.Pointer[i] = (i % 13 - 6) * 0.01f;
            }
            for (long i = 0; i < b.Length; i++)
            {
                b.Pointer[i] = (i % 7 - 3) * 0.01f;
            }
            OpenBlas.MultiplyTransposed(rows, n, k, a.Pointer, b.Pointer, c.Pointer);
            var samples = new List<double>();
            for (int r = 0; r < 5; r++)
            {
                var clock = Stopwatch.StartNew();
                int iterations = 0;
                do
                {
                    OpenBlas.MultiplyTransposed(rows, n, k, a.Pointer, b.Pointer, c.Pointer);
                    iterations++;
                }
                while (clock.Elapsed.TotalSeconds < 0.2);
                samples.Add(2.0 * rows * n * k * iterations / clock.Elapsed.TotalSeconds / 1e9);
            }
            samples.Sort();
            results[name] = samples[samples.Count / 2];
            log($"openblas {name}: {results[name]:F1} GFLOP/s ({library})");
        }
        return results;
    }

    /// <summary>Runs bench/scripts/pytorch_bench.py; null when python3 or torch is missing.</summary>
    public static JsonElement? PyTorch(string script, int threads, bool quick, bool tuned, Action<string> log)
    {
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(threads.ToString());
        if (quick)
        {
            start.ArgumentList.Add("--quick");
        }
        if (tuned)
        {
            start.Environment["OPENBLAS_CORETYPE"] = "SkylakeX";
            string jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
            if (File.Exists(jemalloc))
            {
                start.Environment["LD_PRELOAD"] = jemalloc;
            }
        }
        try
        {
            using Process process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                log($"PyTorch reference failed (apt-get install python3-torch?): {error.Trim().Split('\n').LastOrDefault()}");
                return null;
            }
            return JsonDocument.Parse(output.Trim().Split('\n').Last()).RootElement.Clone();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            log("python3 not found; skipping PyTorch.");
            return null;
        }
    }

    public static string? FindScript()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "bench", "scripts", "pytorch_bench.py");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
