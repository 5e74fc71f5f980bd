using System.Diagnostics;

namespace SharpGpt.Cli.Tests.Distributed;

/// <summary>Runs `sharpgpt` as an OpenMPI job (mpirun -np N) or as one process, capturing its output.</summary>
internal static class MpiJob
{
    private static string Cli => Path.Combine(AppContext.BaseDirectory, "sharpgpt.dll");

    public static string Mpirun => new[] { "/usr/bin/mpirun", "/usr/local/bin/mpirun" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("mpirun not found: install OpenMPI (apt-get install openmpi-bin libopenmpi-dev); scripts/test.sh does.");

    public static (int ExitCode, string Output) Run(int ranks, IEnumerable<string> args, TimeSpan? timeout = null, Action<Process>? whileRunning = null)
    {
        var start = ranks == 0 ? new ProcessStartInfo("dotnet") : new ProcessStartInfo(Mpirun);
        if (ranks > 0)
        {
            // CI runs as root; two or three ranks share two cores.
            foreach (string a in new[] { "--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(), "dotnet" })
            {
                start.ArgumentList.Add(a);
            }
        }
        start.ArgumentList.Add(Cli);
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        // One compute thread per rank, so ranks do not fight over the cores.
        start.Environment["SHARPGPT_THREADS"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(), error = process.StandardError.ReadToEndAsync();
        whileRunning?.Invoke(process);
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "timed out\n" + output.Result + error.Result);
        }
        return (process.ExitCode, output.Result + error.Result);
    }
}
