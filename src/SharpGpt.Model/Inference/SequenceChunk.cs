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
public readonly record struct SequenceChunk(int Slot, ReadOnlyMemory<int> Tokens, LogitsRequest Logits = LogitsRequest.Last);
