using System.Buffers;
using System.Numerics.Tensors;
using System.Text;
using System.Text.Json;

namespace SharpGpt.Model.Checkpoints.Safetensors;

/// <summary>
/// A tensor to write: its name, shape, and a callback that fills elements [start, start + chunk.Length)
/// in fp32, so that tensors of any size stream through a small buffer.
/// </summary>
public sealed record SafetensorsTensorSource(string Name, long[] Shape, Action<long, Span<float>> FillChunk)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>A tensor whose values are all in an array (or any span source addressed by offset).</summary>
    public static SafetensorsTensorSource FromArray(string name, long[] shape, float[] values) =>
        new(name, shape, (start, chunk) => values.AsSpan((int)start, chunk.Length).CopyTo(chunk));
}

/// <summary>
/// A tensor stored as raw bytes of its own dtype (quantized weights: I8, U8 or F32 scales): <paramref name="WriteTo"/>
/// writes exactly its element count × dtype size bytes, which the writer checks.
/// </summary>
public sealed record SafetensorsBytesSource(string Name, SafetensorsDType DType, long[] Shape, Action<Stream> WriteTo)
{
    public long ByteLength => Shape.Aggregate(1L, (a, b) => a * b) * SafetensorsDTypes.SizeOf(DType);
}

/// <summary>
/// Writes safetensors files (float tensors as F32, F16 or BF16, plus any raw-byte tensors), atomically. Tensors are streamed in chunks through
/// one pooled buffer, so writing needs no second copy of the model. The header is padded with spaces to a
/// multiple of 8 bytes, as the reference implementation does, so the data section stays aligned.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Elements converted and written per chunk (4 MiB of fp32).</summary>
    private const int ChunkElements = 1 << 20;

    public static void Write(string path, IReadOnlyList<SafetensorsTensorSource> tensors, SafetensorsDType dtype = SafetensorsDType.F32,
        IReadOnlyDictionary<string, string>? metadata = null, IReadOnlyList<SafetensorsBytesSource>? byteTensors = null)
    {
        if (!SafetensorsDTypes.IsFloat(dtype))
        {
            throw new ArgumentException($"SharpGPT writes F32, F16 or BF16, not {dtype}.", nameof(dtype));
        }
        int elementSize = SafetensorsDTypes.SizeOf(dtype);
        byteTensors ??= [];
        var entries = tensors.Select(t => (t.Name, dtype, t.Shape, t.ElementCount * elementSize))
            .Concat(byteTensors.Select(t => (t.Name, t.DType, t.Shape, t.ByteLength)));
        byte[] header = BuildHeader(entries, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            float[] values = ArrayPool<float>.Shared.Rent(ChunkElements);
            byte[] bytes = ArrayPool<byte>.Shared.Rent(ChunkElements * elementSize);
            try
            {
                foreach (SafetensorsTensorSource tensor in tensors)
                {
                    long count = tensor.ElementCount;
                    for (long start = 0; start < count; start += ChunkElements)
                    {
                        int n = (int)Math.Min(ChunkElements, count - start);
                        Span<float> span = values.AsSpan(0, n);
                        tensor.FillChunk(start, span);
                        Encode(span, bytes.AsSpan(0, n * elementSize), dtype);
                        stream.Write(bytes, 0, n * elementSize);
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(values);
                ArrayPool<byte>.Shared.Return(bytes);
            }
            foreach (SafetensorsBytesSource tensor in byteTensors)
            {
                long before = stream.Position;
                tensor.WriteTo(stream);
                if (stream.Position - before != tensor.ByteLength)
                {
                    throw new InvalidOperationException(
                        $"Tensor '{tensor.Name}' wrote {stream.Position - before} bytes; its shape needs {tensor.ByteLength}.");
                }
            }
        });
    }

    private static byte[] BuildHeader(IEnumerable<(string Name, SafetensorsDType DType, long[] Shape, long Bytes)> tensors,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using MemoryStream buffer = new();
        using (Utf8JsonWriter json = new(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach ((string key, string value) in metadata)
                {
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach ((string name, SafetensorsDType dtype, long[] shape, long bytes) in tensors)
            {
                if (!names.Add(name))
                {
                    throw new ArgumentException($"Tensor '{name}' is listed twice.", nameof(tensors));
                }
                json.WriteStartObject(name);
                json.WriteString("dtype", SafetensorsDTypes.Name(dtype));
                json.WriteStartArray("shape");
                foreach (long d in shape)
                {
                    json.WriteNumberValue(d);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        int padded = (int)((buffer.Length + 7) / 8 * 8);
        byte[] header = new byte[padded];
        buffer.ToArray().CopyTo(header, 0);
        header.AsSpan((int)buffer.Length).Fill((byte)' ');
        return header;
    }

    private static void Encode(ReadOnlySpan<float> values, Span<byte> destination, SafetensorsDType dtype)
    {
        switch (dtype)
        {
            case SafetensorsDType.F32:
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).CopyTo(destination);
                break;
            case SafetensorsDType.F16:
                TensorPrimitives.ConvertToHalf(values, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(destination));
                break;
            default:
                Span<ushort> bf16 = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(destination);
                for (int i = 0; i < values.Length; i++)
                {
                    bf16[i] = ToBFloat16(values[i]);
                }
                break;
        }
    }

    /// <summary>Round-to-nearest-even fp32 → bf16 (NaN stays NaN).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
