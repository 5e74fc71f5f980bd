namespace SharpGpt.Tensors.Memory;

/// <summary>
/// Per-thread scratch space that grows to the largest size asked for and is then reused,
/// so kernels that need temporary buffers (GEMM packing, attention rows) allocate only on warm-up.
/// Fresh pages cost about 7 µs per 4 KiB on the target machines, so reuse matters.
/// </summary>
internal static unsafe class ScratchArena
{
    // Slot numbers: each kernel that needs scratch owns one, so nested uses never overlap.
    public const int GemmPackedA = 0;
    public const int GemmPackedB = 1;
    public const int Partials = 2;
    public const int AttentionRow = 3;
    public const int AttentionGradients = 4;
    public const int LayerNormRow = 5;
    public const int QuantizedActivations = 6;
    public const int AttentionProbabilities = 7;
    public const int GemmTaskPanel = 8;
    public const int DequantizedPanel = 9;
    private const int SlotCount = DequantizedPanel + 1;

    [ThreadStatic] private static NativeBuffer?[]? t_slots;

    /// <summary>Returns at least <paramref name="floats"/> floats for slot <paramref name="slot"/> of the calling thread.</summary>
    public static float* Get(int slot, long floats)
    {
        t_slots ??= new NativeBuffer?[SlotCount];
        NativeBuffer? buffer = t_slots[slot];
        if (buffer == null || buffer.Length < floats)
        {
            buffer?.Dispose();
            // Grow by 25% beyond the request so a slowly growing size does not reallocate each call.
            buffer = new NativeBuffer(floats + floats / 4 + 16);
            t_slots[slot] = buffer;
        }
        return buffer.Pointer;
    }
}
