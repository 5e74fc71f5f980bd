using System.Diagnostics;

namespace SharpGpt.Cli.Bench;

/// <summary>Peak resident memory of this process (VmHWM on Linux; PeakWorkingSet64 elsewhere).</summary>
internal static class PeakMemory
{
    /// <summary>
    /// Resets the peak to the current resident set (Linux: writing 5 to /proc/self/clear_refs), so that a later
    /// <see cref="Bytes"/> measures one phase. False where that is not possible; the peak then covers the whole process.
    /// </summary>
    public static bool TryReset()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

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
