using SharpGpt.Tensors.Memory;

namespace SharpGpt.Model.Inference;

/// <summary>
/// Keys and values of every layer for a fixed number of sequence slots, allocated once.
/// A dense layer keeps MaxContext positions per slot. A local layer keeps a ring of
/// window + maxTokensPerStep − 1 positions (position s in row s mod capacity): the extra rows let a chunk
/// of new tokens be written before any of them attends, without overwriting what earlier tokens in the
/// chunk still need. So a local layer's memory is bounded by its window, however long the sequence.
/// Each layer's keys (and values) are head-major, [heads, capacity, head size], the layout
/// <see cref="Tensors.Kernels.CachedAttentionChunk"/> reads: one head's cached keys are a single contiguous run.
/// </summary>
public sealed unsafe class KvCache : IDisposable
{
    private readonly long[] _layerOffsets;
    private readonly long _slotFloats;
    private readonly NativeBuffer _buffer;

    public KvCache(GptConfig config, int slots, int maxContext, int maxTokensPerStep)
    {
        if (slots < 1)
        {
            throw new SharpGptException("A KV cache needs at least one slot.");
        }
        if (maxContext < 1 || maxContext > config.ContextLength)
        {
            throw new SharpGptException($"Max context {maxContext} must be between 1 and the model's {config.ContextLength}.");
        }
        SlotCount = slots;
        MaxContext = maxContext;
        Channels = config.EmbeddingSize;
        Heads = config.HeadCount;
        HeadDim = config.HeadDim;
        Capacities = new int[config.LayerCount];
        _layerOffsets = new long[config.LayerCount];
        long offset = 0;
        for (int l = 0; l < config.LayerCount; l++)
        {
            int window = config.WindowOf(l);
            Capacities[l] = window > 0 ? Math.Min(maxContext, window + maxTokensPerStep - 1) : maxContext;
            _layerOffsets[l] = offset;
            offset += 2L * Capacities[l] * Channels;
        }
        _slotFloats = offset;
        _buffer = new NativeBuffer(_slotFloats * slots);
    }

    public int SlotCount { get; }

    public int MaxContext { get; }

    public int Channels { get; }

    public int Heads { get; }

    public int HeadDim { get; }

    /// <summary>Positions kept per slot in each layer.</summary>
    public int[] Capacities { get; }

    /// <summary>Bytes for all slots.</summary>
    public long ByteLength => _buffer.ByteLength;

    /// <summary>Bytes one slot needs for a config, without allocating (for start-up budgeting).</summary>
    public static long BytesPerSlot(GptConfig config, int maxContext, int maxTokensPerStep)
    {
        long floats = 0;
        for (int l = 0; l < config.LayerCount; l++)
        {
            int window = config.WindowOf(l);
            int capacity = window > 0 ? Math.Min(maxContext, window + maxTokensPerStep - 1) : maxContext;
            floats += 2L * capacity * config.EmbeddingSize;
        }
        return floats * sizeof(float);
    }

    /// <summary>Keys of (slot, layer): Heads × Capacities[layer] × HeadDim floats, head-major. Values follow right after.</summary>
    public float* Keys(int slot, int layer) => _buffer.Pointer + slot * _slotFloats + _layerOffsets[layer];

    public float* Values(int slot, int layer) => Keys(slot, layer) + (long)Capacities[layer] * Channels;

    /// <summary>
    /// Stores position <paramref name="position"/>'s key and value (C floats each, heads side by side, as the qkv
    /// projection writes them) into its ring row of every head of (slot, layer).
    /// </summary>
    public void Write(int slot, int layer, int position, float* key, float* value)
    {
        int capacity = Capacities[layer];
        long row = (long)(position % capacity) * HeadDim, headFloats = (long)capacity * HeadDim, bytes = HeadDim * sizeof(float);
        float* keys = Keys(slot, layer), values = Values(slot, layer);
        for (int h = 0; h < Heads; h++)
        {
            Buffer.MemoryCopy(key + h * HeadDim, keys + h * headFloats + row, bytes, bytes);
            Buffer.MemoryCopy(value + h * HeadDim, values + h * headFloats + row, bytes, bytes);
        }
    }

    /// <summary>
    /// Copies the first <paramref name="positions"/> cached positions of every layer of one slot into another
    /// (forking a shared prompt). Only the rows in use move, per head: a local layer's ring holds position s in row
    /// s mod capacity, so once the sequence has wrapped its whole ring is copied.
    /// </summary>
    public void CopySlot(int from, int to, int positions)
    {
        if (from == to || positions <= 0)
        {
            return;
        }
        for (int l = 0; l < Capacities.Length; l++)
        {
            long headFloats = (long)Capacities[l] * HeadDim;
            long bytes = (long)Math.Min(positions, Capacities[l]) * HeadDim * sizeof(float);
            // Keys and values of a layer are adjacent, so the 2·Heads head runs are headFloats apart.
            float* source = Keys(from, l), destination = Keys(to, l);
            for (int run = 0; run < 2 * Heads; run++)
            {
                Buffer.MemoryCopy(source + run * headFloats, destination + run * headFloats, bytes, bytes);
            }
        }
    }

    public void Dispose() => _buffer.Dispose();
}
