namespace SharpGpt.Model.Checkpoints.Safetensors;

/// <summary>One tensor in a safetensors file: its type, shape and byte range within the data section.</summary>
public sealed record SafetensorsEntry(string Name, SafetensorsDType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
