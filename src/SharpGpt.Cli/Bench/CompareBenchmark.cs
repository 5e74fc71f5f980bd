using System.Diagnostics;
using System.Text.Json;

namespace SharpGpt.Cli.Bench;

/// <summary>
/// The PyTorch references of `sharpgpt bench --compare`, measured in the same run on Debian's python3-torch, plain
/// and tuned (jemalloc + SkylakeX kernels). OpenBLAS sgemm is timed inside <see cref="EngineBenchmark"/>.
/// </summary>
internal static unsafe class CompareBenchmark
{
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
