using System.IO.MemoryMappedFiles;
using System.Numerics.Tensors;
using System.Text;
using System.Text.Json;

namespace SharpGpt.Model.Checkpoints.Safetensors;

/// <summary>
/// A safetensors file opened read-only and memory-mapped: an 8-byte little-endian header length N,
/// N bytes of JSON describing each tensor (dtype, shape, data_offsets), then the raw data.
/// Tensors are converted to fp32 straight from the mapping into the caller's buffer, so loading never
/// holds a second copy of the model. Every structural fact is checked before any data is read, and a
/// hostile header (huge length, offsets past the end, overlapping tensors, sizes that do not match the
/// shape) is rejected with a message naming the file and the tensor.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>Upper bound on the JSON header: real headers are kilobytes; this stops absurd allocations.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    private readonly MemoryMappedFile? _mapping;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly long _dataStart;
    private bool _disposed;

    private SafetensorsFile(string path, MemoryMappedFile? mapping, MemoryMappedViewAccessor? view, byte* basePointer, long dataStart,
        Dictionary<string, SafetensorsEntry> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _mapping = mapping;
        _view = view;
        _base = basePointer;
        _dataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, SafetensorsEntry> Tensors { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafetensorsFile Open(string path)
    {
        FileInfo info = new(path);
        if (!info.Exists)
        {
            throw new CheckpointException($"{path}: file not found.");
        }
        long length = info.Length;
        if (length < 8)
        {
            throw new CheckpointException($"{path}: {length} bytes is too short for a safetensors file (it needs an 8-byte header length).");
        }
        MemoryMappedFile? mapping = null;
        MemoryMappedViewAccessor? view = null;
        byte* pointer = null;
        try
        {
            mapping = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = mapping.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            pointer += view.PointerOffset;
            ulong headerLength = *(ulong*)pointer;
            if (!BitConverter.IsLittleEndian)
            {
                headerLength = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(headerLength);
            }
            if (headerLength > (ulong)(length - 8) || headerLength > MaxHeaderBytes)
            {
                throw new CheckpointException($"{path}: header length {headerLength} does not fit in a file of {length} bytes (truncated or not a safetensors file).");
            }
            long dataStart = 8 + (long)headerLength;
            (var tensors, var metadata) = ParseHeader(path, new ReadOnlySpan<byte>(pointer + 8, (int)headerLength), length - dataStart);
            return new SafetensorsFile(path, mapping, view, pointer, dataStart, tensors, metadata);
        }
        catch (Exception ex) when (ex is not CheckpointException)
        {
            Release(view, mapping, pointer);
            throw new CheckpointException($"{path}: cannot be read as safetensors: {ex.Message}", ex);
        }
        catch
        {
            Release(view, mapping, pointer);
            throw;
        }
    }

    private static void Release(MemoryMappedViewAccessor? view, MemoryMappedFile? mapping, byte* pointer)
    {
        if (view != null && pointer != null)
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
        view?.Dispose();
        mapping?.Dispose();
    }

    private static (Dictionary<string, SafetensorsEntry>, Dictionary<string, string>) ParseHeader(string path, ReadOnlySpan<byte> header, long dataLength)
    {
        var tensors = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonDocument document;
        try
        {
            // The spec allows trailing spaces as padding.
            document = JsonDocument.Parse(Encoding.UTF8.GetString(header).TrimEnd(' ', '\0'));
        }
        catch (Exception ex) when (ex is JsonException or DecoderFallbackException or ArgumentException)
        {
            throw new CheckpointException($"{path}: the header is not valid JSON ({ex.Message}).", ex);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException($"{path}: the header must be a JSON object.");
            }
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind == JsonValueKind.Object)
                    {
                        foreach (JsonProperty item in property.Value.EnumerateObject())
                        {
                            metadata[item.Name] = item.Value.ValueKind == JsonValueKind.String ? item.Value.GetString()! : item.Value.GetRawText();
                        }
                    }
                    continue;
                }
                if (tensors.ContainsKey(property.Name))
                {
                    throw new CheckpointException($"{path}: tensor '{property.Name}' appears twice in the header.");
                }
                tensors[property.Name] = ParseEntry(path, property.Name, property.Value, dataLength);
            }
        }
        // Tensors must not overlap (the format packs them back to back).
        SafetensorsEntry? previous = null;
        foreach (SafetensorsEntry entry in tensors.Values.Where(e => e.End > e.Begin).OrderBy(e => e.Begin))
        {
            if (previous != null && entry.Begin < previous.End)
            {
                throw new CheckpointException($"{path}: tensors '{previous.Name}' and '{entry.Name}' overlap in the data section.");
            }
            previous = entry;
        }
        return (tensors, metadata);
    }

    private static SafetensorsEntry ParseEntry(string path, string name, JsonElement value, long dataLength)
    {
        string Where() => $"{path}: tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out JsonElement dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out JsonElement shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out JsonElement offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
        {
            throw new CheckpointException($"{Where()} needs 'dtype', 'shape' and a two-element 'data_offsets'.");
        }
        if (!SafetensorsDTypes.TryParse(dtypeElement.GetString()!, out SafetensorsDType dtype))
        {
            throw new CheckpointException($"{Where()} has unknown dtype '{dtypeElement.GetString()}'.");
        }
        long[] shape = new long[shapeElement.GetArrayLength()];
        long elements = 1;
        int i = 0;
        foreach (JsonElement dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long d) || d < 0)
            {
                throw new CheckpointException($"{Where()} has an invalid dimension {dim.GetRawText()}.");
            }
            shape[i++] = d;
            try
            {
                elements = checked(elements * d);
            }
            catch (OverflowException)
            {
                throw new CheckpointException($"{Where()} has a shape whose size overflows.");
            }
        }
        long[] offsets = new long[2];
        i = 0;
        foreach (JsonElement o in offsetsElement.EnumerateArray())
        {
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out offsets[i]) || offsets[i] < 0)
            {
                throw new CheckpointException($"{Where()} has an invalid data offset {o.GetRawText()}.");
            }
            i++;
        }
        long begin = offsets[0], end = offsets[1];
        if (begin > end || end > dataLength)
        {
            throw new CheckpointException($"{Where()} has data offsets [{begin}, {end}) outside the {dataLength}-byte data section (the file may be truncated).");
        }
        long expectedBytes;
        try
        {
            expectedBytes = checked(elements * SafetensorsDTypes.SizeOf(dtype));
        }
        catch (OverflowException)
        {
            throw new CheckpointException($"{Where()} is too large.");
        }
        if (end - begin != expectedBytes)
        {
            throw new CheckpointException($"{Where()} has {end - begin} bytes of data but shape [{string.Join(", ", shape)}] of {SafetensorsDTypes.Name(dtype)} needs {expectedBytes}.");
        }
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    public SafetensorsEntry Entry(string name) =>
        Tensors.TryGetValue(name, out SafetensorsEntry? entry) ? entry : throw new CheckpointException($"{Path}: tensor '{name}' is missing.");

    /// <summary>
    /// Copies the raw bytes of a tensor whose dtype is <paramref name="dtype"/> (quantized weights); the destination
    /// must hold exactly its bytes.
    /// </summary>
    public void ReadBytes(SafetensorsEntry entry, SafetensorsDType dtype, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (entry.DType != dtype)
        {
            throw new CheckpointException($"{Path}: tensor '{entry.Name}' has dtype {SafetensorsDTypes.Name(entry.DType)}, expected {SafetensorsDTypes.Name(dtype)}.");
        }
        if (destination.Length != entry.End - entry.Begin)
        {
            throw new CheckpointException($"{Path}: tensor '{entry.Name}' has {entry.End - entry.Begin} bytes, expected {destination.Length}.");
        }
        new ReadOnlySpan<byte>(_base + _dataStart + entry.Begin, destination.Length).CopyTo(destination);
    }

    /// <summary>Converts a float tensor to fp32 into <paramref name="destination"/> (its element count must match).</summary>
    public void ReadFloat32(SafetensorsEntry entry, Span<float> destination)
    {
        if (destination.Length != entry.ElementCount)
        {
            throw new CheckpointException($"{Path}: tensor '{entry.Name}' has {entry.ElementCount} elements, expected {destination.Length}.");
        }
        ReadFloat32(entry, 0, destination);
    }

    /// <summary>Elements [start, start + destination.Length) of a float tensor, as fp32 (re-sharding reads slices).</summary>
    public void ReadFloat32(SafetensorsEntry entry, long start, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (start < 0 || start + destination.Length > entry.ElementCount)
        {
            throw new CheckpointException($"{Path}: elements [{start}, {start + destination.Length}) are outside tensor '{entry.Name}' ({entry.ElementCount}).");
        }
        if (!SafetensorsDTypes.IsFloat(entry.DType))
        {
            throw new CheckpointException($"{Path}: tensor '{entry.Name}' has dtype {SafetensorsDTypes.Name(entry.DType)}; SharpGPT reads F32, F16 and BF16.");
        }
        byte* source = _base + _dataStart + entry.Begin + start * SafetensorsDTypes.SizeOf(entry.DType);
        const int chunk = 1 << 20;
        for (long done = 0; done < destination.Length; done += chunk)
        {
            int n = (int)Math.Min(chunk, destination.Length - done);
            Span<float> target = destination.Slice((int)done, n);
            switch (entry.DType)
            {
                case SafetensorsDType.F32:
                    new ReadOnlySpan<float>((float*)source + done, n).CopyTo(target);
                    break;
                case SafetensorsDType.F16:
                    TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)source + done, n), target);
                    break;
                default:
                    ushort* bf16 = (ushort*)source + done;
                    for (int i = 0; i < n; i++)
                    {
                        target[i] = BitConverter.Int32BitsToSingle(bf16[i] << 16);
                    }
                    break;
            }
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        Release(_view, _mapping, _base == null ? null : _base);
    }
}
