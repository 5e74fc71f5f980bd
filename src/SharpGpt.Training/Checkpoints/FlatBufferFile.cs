using SharpGpt.Model.Checkpoints;
using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.Tensors.Memory;

namespace SharpGpt.Training.Checkpoints;

/// <summary>
/// Saves and restores flat buffers (parameters, Adam moments) as one F32 tensor each in a safetensors file,
/// bit for bit: resuming must continue exactly where the run stopped.
/// </summary>
public static class FlatBufferFile
{
    public static void Write(string path, IReadOnlyList<(string Name, NativeBuffer Buffer)> buffers, IReadOnlyDictionary<string, string>? metadata = null) =>
        SafetensorsWriter.Write(path,
            buffers.Select(b => new SafetensorsTensorSource(b.Name, [b.Buffer.Length], (start, chunk) => b.Buffer.Slice(start, chunk.Length).CopyTo(chunk))).ToList(),
            SafetensorsDType.F32, metadata);

    public static void Read(string path, string name, NativeBuffer destination)
    {
        using SafetensorsFile file = SafetensorsFile.Open(path);
        SafetensorsEntry entry = file.Entry(name);
        if (entry.ElementCount != destination.Length)
        {
            throw new CheckpointException($"{path}: '{name}' has {entry.ElementCount} values but this model needs {destination.Length}; the checkpoint is for a different model.");
        }
        file.ReadFloat32(entry, destination.Span);
    }
}
