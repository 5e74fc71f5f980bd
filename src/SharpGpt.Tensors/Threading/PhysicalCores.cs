namespace SharpGpt.Tensors.Threading;

/// <summary>
/// Physical cores this process may run on. Two hyper-threads of one core share its FMA units, so a
/// compute-bound pool gains nothing from the second and loses to the contention: the default pool has one
/// thread per physical core. On Linux the sysfs topology of the CPUs in the process's affinity mask is
/// counted (distinct package/core pairs); elsewhere, or if sysfs is unreadable, the logical processor count.
/// </summary>
public static class PhysicalCores
{
    public static int Count()
    {
        int logical = Environment.ProcessorCount;
        if (!OperatingSystem.IsLinux())
        {
            return logical;
        }
        try
        {
            long mask = (long)System.Diagnostics.Process.GetCurrentProcess().ProcessorAffinity;
            var cores = new HashSet<(string, string)>();
            for (int cpu = 0; cpu < 64; cpu++)
            {
                if ((mask & (1L << cpu)) == 0)
                {
                    continue;
                }
                string topology = $"/sys/devices/system/cpu/cpu{cpu}/topology/";
                cores.Add((File.ReadAllText(topology + "physical_package_id").Trim(), File.ReadAllText(topology + "core_id").Trim()));
            }
            // ProcessorCount also honours cgroup CPU quotas, which the affinity mask does not show.
            return cores.Count == 0 ? logical : Math.Min(cores.Count, logical);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException or InvalidOperationException)
        {
            return logical;
        }
    }
}
