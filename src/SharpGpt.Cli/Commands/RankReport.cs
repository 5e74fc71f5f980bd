using System.Text.Json;
using SharpGpt.Training.Distributed;

namespace SharpGpt.Cli.Commands;

/// <summary>
/// Each rank writes OUT/ranks/rank-R.json at start: its pid, place in the job, ZeRO stage and the bytes of model
/// state it holds. Operators see what each process owns; the tests check the ZeRO formulas against it.
/// </summary>
internal static class RankReport
{
    public static void Write(string outputDirectory, ICommunicator comm, ZeroEngine zero)
    {
        string directory = Path.Combine(outputDirectory, "ranks");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, $"rank-{comm.Rank}.json"), JsonSerializer.Serialize(new
        {
            rank = comm.Rank,
            size = comm.Size,
            pid = Environment.ProcessId,
            stage = zero.Stage,
            parameter_bytes = zero.ParameterBytes,
            gradient_bytes = zero.GradientBytes,
            optimizer_bytes = zero.OptimizerBytes,
            working_bytes = zero.WorkingBytes,
            local_elements = zero.Shard.LocalLength,
        }, new JsonSerializerOptions { WriteIndented = true }));
    }
}
