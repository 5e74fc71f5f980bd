using Xunit;

namespace SharpGpt.Model.Tests;

/// <summary>
/// Tests that perturb a kernel for the whole process run alone; the parity tests join the collection
/// so they never run while a kernel is perturbed.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial";
}
