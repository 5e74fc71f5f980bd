namespace SharpGpt.Model.Backends;

/// <summary>Which backend runs models: SHARPGPT_BACKEND (default "cpu"). This build has the CPU backend only.</summary>
public static class ComputeBackends
{
    private static readonly IComputeBackend[] Available = [CpuBackend.Instance];

    public static IComputeBackend Default { get; } = Resolve(Environment.GetEnvironmentVariable("SHARPGPT_BACKEND"));

    public static IComputeBackend Resolve(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return CpuBackend.Instance;
        }
        return Available.FirstOrDefault(b => string.Equals(b.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new SharpGptException($"Unknown compute backend '{name}' (SHARPGPT_BACKEND); this build has: {string.Join(", ", Available.Select(b => b.Name))}.");
    }
}
