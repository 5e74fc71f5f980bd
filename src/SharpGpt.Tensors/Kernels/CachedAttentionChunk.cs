namespace SharpGpt.Tensors.Kernels;

/// <summary>
/// Consecutive new positions of one sequence attending over its key/value cache (a decoding token, a prefill
/// chunk, a scoring pass). Row r is position FirstPosition + r: its query (C floats, heads side by side) is at
/// Query + r·QueryStride and its output at Output + r·OutputStride. Keys and Values point at the sequence's
/// cache for this layer, head-major: for each head h, Capacity rows of hd floats starting at h·Capacity·hd, where
/// absolute position s lives in row s mod Capacity. A head's keys are thus one contiguous run that the hardware
/// prefetchers stream (with position-major rows a head's slice was hd floats every C, a stride they do not
/// follow). A dense layer's cache holds every position (Capacity ≥ context); a local layer's is a ring buffer a
/// little larger than the window, so its memory stays bounded however long the sequence grows.
/// </summary>
public unsafe struct CachedAttentionChunk
{
    public float* Query;
    public float* Output;
    public float* Keys;
    public float* Values;
    public int QueryStride;
    public int OutputStride;
    public int FirstPosition;
    public int Count;
    public int Capacity;

    /// <summary>
    /// Decoding rows stream the cache once per query (<see cref="CachedAttention"/>'s row path); prompt rows are
    /// tiled in blocks whose products run on the GEMM micro-kernels (<see cref="PromptBlockAttention"/>). Either
    /// way a row's output does not depend on the chunk it came in, so batching never changes a result; the two
    /// paths round differently from each other.
    /// </summary>
    public bool Decoding;

    public readonly int LastPosition => FirstPosition + Count - 1;
}
