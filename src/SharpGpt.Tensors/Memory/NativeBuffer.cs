using System.Runtime.InteropServices;

namespace SharpGpt.Tensors.Memory;

/// <summary>
/// A 64-byte aligned block of unmanaged floats, zeroed on allocation (on huge pages when large: <see cref="PageAllocator"/>).
/// Parameters, gradients, optimizer moments and activations all live in these,
/// so the GC never moves or scans them and SIMD loads are always aligned.
/// </summary>
public sealed unsafe class NativeBuffer : IDisposable
{
    /// <summary>Cache-line (and zmm) alignment.</summary>
    public const int Alignment = 64;

    private float* _pointer;

    public NativeBuffer(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        nuint bytes = AllocatedBytes;
        try
        {
            _pointer = (float*)PageAllocator.Allocate(bytes, Alignment, out bool zeroed);
            if (!zeroed)
            {
                NativeMemory.Clear(_pointer, bytes);
            }
        }
        catch (OutOfMemoryException)
        {
            throw new OutOfMemoryException($"Could not allocate {length:N0} floats ({bytes / (1024.0 * 1024 * 1024):F2} GiB).");
        }
        GC.AddMemoryPressure((long)bytes);
    }

    /// <summary>Number of floats.</summary>
    public long Length { get; }

    /// <summary>Bytes allocated (at least one float, so that an empty buffer still has a valid pointer).</summary>
    private nuint AllocatedBytes => (nuint)Math.Max(1, Length) * sizeof(float);

    /// <summary>Size in bytes.</summary>
    public long ByteLength => Length * sizeof(float);

    public float* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer == null, this);
            return _pointer;
        }
    }

    /// <summary>The whole buffer as a span; only valid while Length fits in an int.</summary>
    public Span<float> Span => new(Pointer, checked((int)Length));

    /// <summary>A slice of the buffer as a span.</summary>
    public Span<float> Slice(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"Slice [{offset}, {offset + length}) is outside a buffer of {Length} floats.");
        }
        return new Span<float>(Pointer + offset, length);
    }

    public void Clear() => NativeMemory.Clear(Pointer, (nuint)ByteLength);

    /// <summary>
    /// Returns the memory of floats [offset, offset + length) to the operating system where whole pages allow
    /// (Linux): those floats are zero afterwards, the rest of the range keeps its values. The caller must no longer
    /// need the range. Returns the bytes given back.
    /// </summary>
    public long ReleaseRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"Range [{offset}, {offset + length}) is outside a buffer of {Length} floats.");
        }
        return PageAllocator.Release(Pointer + offset, (nuint)length * sizeof(float));
    }

    public void Dispose()
    {
        if (_pointer != null)
        {
            PageAllocator.Free(_pointer, AllocatedBytes);
            _pointer = null;
            GC.RemoveMemoryPressure(Math.Max(sizeof(float), ByteLength));
        }
        GC.SuppressFinalize(this);
    }

    ~NativeBuffer()
    {
        if (_pointer != null)
        {
            PageAllocator.Free(_pointer, AllocatedBytes);
        }
    }
}
