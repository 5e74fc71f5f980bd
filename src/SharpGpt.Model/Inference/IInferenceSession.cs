namespace SharpGpt.Model.Inference;

/// <summary>
/// Batched incremental decoding on some hardware: KV slots, one step over chunks of several sequences, logits
/// of the rows asked for. <see cref="InferenceSession"/> is the CPU implementation; a GPU backend keeps the KV
/// cache in device memory behind the same calls (see <see cref="Backends.IComputeBackend"/>).
/// </summary>
public interface IInferenceSession : IDisposable
{
    GptModel Model { get; }

    GptConfig Config { get; }

    int SlotCount { get; }

    int MaxContext { get; }

    int MaxTokensPerStep { get; }

    /// <summary>When set, each kernel's wall time is charged to its phase.</summary>
    StepProfile? Profile { get; set; }

    /// <summary>Bytes of KV cache and working memory.</summary>
    long ByteLength { get; }

    /// <summary>Positions already in the slot's cache.</summary>
    int Length(int slot);

    void Reset(int slot);

    /// <summary>Keeps the first <paramref name="length"/> positions of a slot.</summary>
    void Truncate(int slot, int length);

    /// <summary>Copies one slot's cache into another (shared prompt prefixes).</summary>
    void CopySlot(int from, int to);

    /// <summary>Appends each chunk's tokens to its slot and computes the requested logits; returns the logit row count.</summary>
    int Step(ReadOnlySpan<SequenceChunk> chunks);

    /// <summary>First logit row of chunk <paramref name="chunkIndex"/> of the last step.</summary>
    int FirstLogitRow(int chunkIndex);

    /// <summary>Logits (V) of one row of the last step, in host memory.</summary>
    ReadOnlySpan<float> Logits(int logitRow);
}
