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
/// Writes safetensors files (F32, F16 or BF16), atomically. Tensors are streamed in chunks through
/// one pooled buffer, so writing needs no second copy of the model. The header is padded with spaces to a
/// multiple of 8 bytes, as the reference implementation does, so the data section stays aligned.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Elements converted and written per chunk (4 MiB of fp32).</summary>
    private const int ChunkElements = 1 << 20;

    public static void Write(string path, IReadOnlyList<SafetensorsTensorSource> tensors, SafetensorsDType dtype = SafetensorsDType.F32,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!SafetensorsDTypes.IsFloat(dtype))
        {
            throw new ArgumentException($"SharpGPT writes F32, F16 or BF16, not {dtype}.", nameof(dtype));
        }
        int elementSize = SafetensorsDTypes.SizeOf(dtype);
        byte[] header = BuildHeader(tensors, dtype, elementSize, metadata);
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
        });
    }

    private static byte[] BuildHeader(IReadOnlyList<SafetensorsTensorSource> tensors, SafetensorsDType dtype, int elementSize,
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
            foreach (SafetensorsTensorSource tensor in tensors)
            {
                if (!names.Add(tensor.Name))
                {
                    throw new ArgumentException($"Tensor '{tensor.Name}' is listed twice.", nameof(tensors));
                }
                long bytes = tensor.ElementCount * elementSize;
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", SafetensorsDTypes.Name(dtype));
                json.WriteStartArray("shape");
                foreach (long d in tensor.Shape)
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
