using System.Diagnostics;
using System.Text;
using SharpGpt.Model;

namespace SharpGpt.Training.Distributed;

/// <summary>
/// Collectives over OpenMPI (launch with `mpirun -np N sharpgpt train …`). Large buffers are sent in chunks
/// that fit MPI's int counts. A watchdog aborts the whole job with a message if one collective waits longer
/// than the timeout (a hung or dead peer), so a failed rank never leaves the others hanging forever.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private const int MaxChunk = 1 << 28;

    private readonly nint _world, _float, _double, _sum;
    private readonly TimeSpan _timeout;
    private readonly Thread _watchdog;
    private long _collectiveStarted;
    private string _collective = "";
    private volatile bool _disposed;

    private MpiCommunicator(TimeSpan timeout)
    {
        _world = MpiNative.Global("ompi_mpi_comm_world");
        _float = MpiNative.Global("ompi_mpi_float");
        _double = MpiNative.Global("ompi_mpi_double");
        _sum = MpiNative.Global("ompi_mpi_op_sum");
        Check(MpiNative.Initialized(out int initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            Check(MpiNative.InitThread(0, 0, MpiNative.ThreadFunneled, out _), "MPI_Init_thread");
        }
        Check(MpiNative.CommRank(_world, out int rank), "MPI_Comm_rank");
        Check(MpiNative.CommSize(_world, out int size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        _timeout = timeout;
        _watchdog = new Thread(Watch) { IsBackground = true, Name = "sharpgpt-mpi-watchdog" };
        _watchdog.Start();
    }

    public int Rank { get; }

    public int Size { get; }

    /// <summary>True when this process was started by OpenMPI's mpirun.</summary>
    public static bool LaunchedByMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") != null;

    /// <summary>The communicator of this process: MPI under mpirun, otherwise a single process.</summary>
    public static ICommunicator Create(TimeSpan? collectiveTimeout = null)
    {
        if (!LaunchedByMpirun)
        {
            return new SingleProcessCommunicator();
        }
        try
        {
            return new MpiCommunicator(collectiveTimeout ?? TimeSpan.FromMinutes(5));
        }
        catch (DllNotFoundException ex)
        {
            throw new SharpGptException($"This process was started by mpirun but {MpiNative.Library} cannot be loaded; install OpenMPI (apt-get install openmpi-bin libopenmpi-dev). {ex.Message}");
        }
    }

    private void Begin(string name)
    {
        _collective = name;
        Interlocked.Exchange(ref _collectiveStarted, Stopwatch.GetTimestamp());
    }

    private void End()
    {
        long started = Interlocked.Exchange(ref _collectiveStarted, 0);
        _collectiveTicks += Stopwatch.GetTimestamp() - started;
    }

    private long _collectiveTicks;

    public TimeSpan CollectiveTime => Stopwatch.GetElapsedTime(0, _collectiveTicks);

    private void Watch()
    {
        while (!_disposed)
        {
            Thread.Sleep(500);
            long started = Interlocked.Read(ref _collectiveStarted);
            if (started != 0 && Stopwatch.GetElapsedTime(started) > _timeout)
            {
                Abort($"rank {Rank}: {_collective} has waited more than {_timeout.TotalSeconds:F0} s for the other ranks; one of them has probably died. " +
                    "Stopping the job; resume from the last checkpoint with --resume.");
            }
        }
    }

    private void Check(int code, string call)
    {
        if (code != MpiNative.Success)
        {
            throw new SharpGptException($"rank {Rank}: {call} failed with MPI error {code}.");
        }
    }

    public void AllReduceSum(float* data, long count)
    {
        Begin("all-reduce");
        for (long start = 0; start < count; start += MaxChunk)
        {
            int n = (int)Math.Min(MaxChunk, count - start);
            Check(MpiNative.Allreduce(MpiNative.InPlace, data + start, n, _float, _sum, _world), "MPI_Allreduce");
        }
        End();
    }

    public double AllReduceSum(double value)
    {
        Begin("all-reduce");
        double result = value;
        Check(MpiNative.Allreduce(&value, &result, 1, _double, _sum, _world), "MPI_Allreduce");
        End();
        return result;
    }

    public void ReduceScatterSum(float* send, float* receive, int[] counts)
    {
        Begin("reduce-scatter");
        fixed (int* c = counts)
        {
            Check(MpiNative.ReduceScatter(send, receive, c, _float, _sum, _world), "MPI_Reduce_scatter");
        }
        End();
    }

    public void AllGather(float* send, float* receive, int[] counts)
    {
        Begin("all-gather");
        int[] displacements = new int[counts.Length];
        for (int r = 1; r < counts.Length; r++)
        {
            displacements[r] = displacements[r - 1] + counts[r - 1];
        }
        fixed (int* c = counts, d = displacements)
        {
            void* source = send == receive + displacements[Rank] ? MpiNative.InPlace : send;
            Check(MpiNative.Allgatherv(source, counts[Rank], _float, receive, c, d, _float, _world), "MPI_Allgatherv");
        }
        End();
    }

    public void Broadcast(float* data, long count, int root)
    {
        Begin("broadcast");
        for (long start = 0; start < count; start += MaxChunk)
        {
            Check(MpiNative.Bcast(data + start, (int)Math.Min(MaxChunk, count - start), _float, root, _world), "MPI_Bcast");
        }
        End();
    }

    public string Broadcast(string value, int root)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        float length = bytes.Length;
        Broadcast(&length, 1, root);
        byte[] buffer = new byte[(int)length];
        if (Rank == root)
        {
            bytes.CopyTo(buffer, 0);
        }
        Begin("broadcast");
        fixed (byte* b = buffer)
        {
            Check(MpiNative.Bcast(b, buffer.Length, MpiNative.Global("ompi_mpi_byte"), root, _world), "MPI_Bcast");
        }
        End();
        return Encoding.UTF8.GetString(buffer);
    }

    public void Barrier()
    {
        Begin("barrier");
        Check(MpiNative.Barrier(_world), "MPI_Barrier");
        End();
    }

    public void Abort(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        Console.Error.Flush();
        MpiNative.Abort(_world, 1);
        Environment.Exit(1);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        MpiNative.Finalize();
    }
}
