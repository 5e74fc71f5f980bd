namespace SharpGpt.Model.Inference;

/// <summary>Which rows of a chunk need logits.</summary>
public enum LogitsRequest
{
    /// <summary>No logits (a prefill chunk that is not the last).</summary>
    None,
    /// <summary>Only the last token's (decoding).</summary>
    Last,
    /// <summary>Every token's (scoring, echo with logprobs).</summary>
    All,
}

/// <summary>New tokens appended to one sequence slot in a batched step.</summary>
/// <param name="Decoding">
/// True for a generated token fed back (one row per step; its matmuls stream the weights once for all decoding
/// rows). False for prompt or scored text, whose rows use the packed GEMM. Each kind is computed the same way
/// whatever else is in the step, so results never depend on batching; callers must mark chunks consistently
/// (a prompt is never "decoding", however it is split).
/// </param>
public readonly record struct SequenceChunk(int Slot, ReadOnlyMemory<int> Tokens, LogitsRequest Logits = LogitsRequest.Last, bool Decoding = false);
