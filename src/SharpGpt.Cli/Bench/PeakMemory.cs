using System.Diagnostics;

namespace SharpGpt.Cli.Bench;

/// <summary>Peak resident memory of this process (VmHWM on Linux; PeakWorkingSet64 elsewhere).</summary>
internal static class PeakMemory
{
    public static long Bytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line[6..].Trim().Split(' ')[0]) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        using Process process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }
}
