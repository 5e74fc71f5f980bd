namespace SharpGpt.Training.Distributed;

/// <summary>
/// Collective operations among the ranks of a data-parallel job. Implementations: <see cref="SingleProcessCommunicator"/>
/// (one rank, every operation a no-op or copy) and <see cref="MpiCommunicator"/> (OpenMPI). A GPU build would add
/// NCCL behind the same interface. Counts are elements; buffers are fp32 unless stated.
/// </summary>
public unsafe interface ICommunicator : IDisposable
{
    int Rank { get; }

    int Size { get; }

    /// <summary>data ← Σ_ranks data, in place.</summary>
    void AllReduceSum(float* data, long count);

    /// <summary>Σ of one double over ranks (losses, token counts, squared norms).</summary>
    double AllReduceSum(double value);

    /// <summary>
    /// Rank r receives Σ_ranks send[offsets[r] .. offsets[r] + counts[r]) into receive (counts[r] elements).
    /// </summary>
    void ReduceScatterSum(float* send, float* receive, int[] counts);

    /// <summary>Every rank's send (counts[rank] elements) lands at offsets[rank] of receive on all ranks.</summary>
    void AllGather(float* send, float* receive, int[] counts);

    /// <summary>data on every rank ← data on <paramref name="root"/>.</summary>
    void Broadcast(float* data, long count, int root);

    /// <summary>A string from <paramref name="root"/> (run ids, paths).</summary>
    string Broadcast(string value, int root);

    void Barrier();

    /// <summary>
    /// Wall time this rank has spent inside collectives so far: transfer plus waiting for slower ranks.
    /// The trainer logs its growth per step as the step's communication time.
    /// </summary>
    TimeSpan CollectiveTime { get; }

    /// <summary>Stops every rank of the job with a message (a dead peer, an unrecoverable error).</summary>
    void Abort(string message);
}

/// <summary>The communicator of a job with one process.</summary>
public sealed unsafe class SingleProcessCommunicator : ICommunicator
{
    public int Rank => 0;

    public int Size => 1;

    public void AllReduceSum(float* data, long count)
    {
    }

    public double AllReduceSum(double value) => value;

    public void ReduceScatterSum(float* send, float* receive, int[] counts) =>
        Buffer.MemoryCopy(send, receive, counts[0] * 4L, counts[0] * 4L);

    public void AllGather(float* send, float* receive, int[] counts)
    {
        if (send != receive)
        {
            Buffer.MemoryCopy(send, receive, counts[0] * 4L, counts[0] * 4L);
        }
    }

    public void Broadcast(float* data, long count, int root)
    {
    }

    public string Broadcast(string value, int root) => value;

    public void Barrier()
    {
    }

    public TimeSpan CollectiveTime => TimeSpan.Zero;

    public void Abort(string message) => throw new Model.SharpGptException(message);

    public void Dispose()
    {
    }
}
