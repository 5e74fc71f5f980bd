namespace SharpGpt.Inference.Serving;

/// <summary>Live counters of a <see cref="GenerationEngine"/>, read by the metrics endpoint.</summary>
public sealed class EngineStatistics
{
    private long _admitted, _completed, _cancelled, _rejected, _generated, _promptTokens, _steps;

    public long Admitted => Interlocked.Read(ref _admitted);
    public long Completed => Interlocked.Read(ref _completed);
    public long Cancelled => Interlocked.Read(ref _cancelled);
    public long Rejected => Interlocked.Read(ref _rejected);
    public long GeneratedTokens => Interlocked.Read(ref _generated);
    public long PromptTokens => Interlocked.Read(ref _promptTokens);
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Requests waiting for a slot.</summary>
    public int QueueDepth { get; internal set; }

    /// <summary>Sequences holding a slot (prefilling or decoding).</summary>
    public int ActiveSequences { get; internal set; }

    /// <summary>Cached positions over total positions, across all slots.</summary>
    public double KvCacheOccupancy { get; internal set; }

    /// <summary>Called with each request's time to first token.</summary>
    public event Action<TimeSpan>? FirstToken;

    internal void OnAdmitted(int promptTokens)
    {
        Interlocked.Increment(ref _admitted);
        Interlocked.Add(ref _promptTokens, promptTokens);
    }

    internal void OnCompleted() => Interlocked.Increment(ref _completed);
    internal void OnCancelled() => Interlocked.Increment(ref _cancelled);
    internal void OnRejected() => Interlocked.Increment(ref _rejected);
    internal void OnToken() => Interlocked.Increment(ref _generated);
    internal void OnStep() => Interlocked.Increment(ref _steps);
    internal void OnFirstToken(TimeSpan latency) => FirstToken?.Invoke(latency);
}
