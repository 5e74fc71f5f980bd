using System.Runtime.CompilerServices;

namespace SharpGpt.Tensors.Threading;

/// <summary>
/// A persistent pool of worker threads for data-parallel kernels.
/// A job is a function pointer plus a pointer to an argument struct on the caller's stack
/// (valid because <see cref="Run"/> blocks until every task is done), so dispatch allocates nothing.
/// Workers spin briefly after a job before they sleep, because decoding issues thousands of
/// small jobs per second and waking a sleeping thread costs tens of microseconds.
/// </summary>
public sealed unsafe class WorkerPool : IDisposable
{
    private const int SpinIterationsBeforeSleep = 20_000;

    private static WorkerPool s_shared = new(DefaultThreadCount());

    // Job slot, published under a sequence lock: _state holds (generation << 32 | next task index);
    // an odd generation means "being written".
    private delegate*<void*, int, void> _body;
    private void* _args;
    private int _taskCount;
    private long _state;
    private int _completed;

    private readonly Thread[] _workers;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Lock _runLock = new();
    private int _sleepers;
    private volatile bool _disposed;

    [ThreadStatic] private static bool t_insideJob;

    public WorkerPool(int threadCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threadCount, 1);
        ThreadCount = threadCount;
        _workers = new Thread[threadCount - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"sharpgpt-worker-{i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>The pool every kernel uses.</summary>
    public static WorkerPool Shared => Volatile.Read(ref s_shared);

    /// <summary>Threads that run tasks, the calling thread included.</summary>
    public int ThreadCount { get; }

    /// <summary>Jobs handed to the workers so far (serial runs excluded): with a per-dispatch cost this gives a step's overhead.</summary>
    public long Dispatches => Volatile.Read(ref _dispatches);

    private long _dispatches;

    /// <summary>
    /// Default thread count: the SHARPGPT_THREADS environment variable, or else the number of physical cores.
    /// </summary>
    public static int DefaultThreadCount()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("SHARPGPT_THREADS");
        if (int.TryParse(fromEnvironment, out int n) && n >= 1)
        {
            return n;
        }
        return PhysicalCores.Count();
    }

    /// <summary>Replaces the shared pool (for example from a --threads option).</summary>
    public static void ConfigureShared(int threadCount)
    {
        if (threadCount == Shared.ThreadCount)
        {
            return;
        }
        WorkerPool old = Interlocked.Exchange(ref s_shared, new WorkerPool(threadCount));
        old.Dispose();
    }

    /// <summary>
    /// Runs <paramref name="body"/>(args, i) for i in [0, taskCount) across the pool and returns when all are done.
    /// Calls from inside a task, or while another thread holds the pool, run serially on the caller.
    /// </summary>
    public void Run(int taskCount, delegate*<void*, int, void> body, void* args)
    {
        if (taskCount <= 0)
        {
            return;
        }
        if (taskCount == 1 || _workers.Length == 0 || t_insideJob || !_runLock.TryEnter())
        {
            RunSerially(taskCount, body, args);
            return;
        }
        try
        {
            _dispatches++;
            Publish(taskCount, body, args);
            t_insideJob = true;
            int generation = (int)(Volatile.Read(ref _state) >> 32);
            Exception? failure = null;
            try
            {
                ClaimAndRun(generation, body, args, taskCount);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
            t_insideJob = false;
            // Workers may still be running tasks that read *args: wait for them before returning or throwing.
            SpinWait spinner = default;
            while (Volatile.Read(ref _completed) < taskCount)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
            if (failure != null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }
        }
        finally
        {
            t_insideJob = false;
            _runLock.Exit();
        }
    }

    private static void RunSerially(int taskCount, delegate*<void*, int, void> body, void* args)
    {
        bool wasInside = t_insideJob;
        t_insideJob = true;
        try
        {
            for (int i = 0; i < taskCount; i++)
            {
                body(args, i);
            }
        }
        finally
        {
            t_insideJob = wasInside;
        }
    }

    private void Publish(int taskCount, delegate*<void*, int, void> body, void* args)
    {
        // Generations live in the high 32 bits and wrap around harmlessly (they step by 2).
        uint generation = (uint)(Volatile.Read(ref _state) >> 32);
        // Odd generation: the slot is being written; workers must not read it.
        Volatile.Write(ref _state, (long)((ulong)(generation + 1) << 32));
        _body = body;
        _args = args;
        _taskCount = taskCount;
        _completed = 0;
        Interlocked.MemoryBarrier();
        Volatile.Write(ref _state, (long)((ulong)(generation + 2) << 32));
        int sleepers = Interlocked.Exchange(ref _sleepers, 0);
        if (sleepers > 0)
        {
            _wake.Release(sleepers);
        }
    }

    /// <summary>Claims tasks of one generation until none are left or the generation has moved on.</summary>
    private void ClaimAndRun(int generation, delegate*<void*, int, void> body, void* args, int taskCount)
    {
        while (true)
        {
            long state = Volatile.Read(ref _state);
            if ((int)(state >> 32) != generation)
            {
                return;
            }
            int index = (int)state;
            if (index >= taskCount)
            {
                return;
            }
            if (Interlocked.CompareExchange(ref _state, state + 1, state) != state)
            {
                continue;
            }
            try
            {
                body(args, index);
            }
            finally
            {
                Interlocked.Increment(ref _completed);
            }
        }
    }

    private void WorkerLoop()
    {
        t_insideJob = true;
        int seenGeneration = 0;
        while (!_disposed)
        {
            int spins = 0;
            long state;
            int generation;
            while (true)
            {
                state = Volatile.Read(ref _state);
                generation = (int)(state >> 32);
                if (generation != seenGeneration && (generation & 1) == 0)
                {
                    break;
                }
                if (_disposed)
                {
                    return;
                }
                if (++spins < SpinIterationsBeforeSleep)
                {
                    Thread.SpinWait(8);
                    continue;
                }
                // Announce that we sleep, then look once more so a job published meanwhile is not missed.
                Interlocked.Increment(ref _sleepers);
                long again = Volatile.Read(ref _state);
                if ((int)(again >> 32) == seenGeneration || ((again >> 32) & 1) != 0)
                {
                    _wake.Wait();
                }
                spins = 0;
            }

            // Seqlock read of the job slot.
            delegate*<void*, int, void> body = _body;
            void* args = _args;
            int taskCount = _taskCount;
            Interlocked.MemoryBarrier();
            if ((int)(Volatile.Read(ref _state) >> 32) != generation)
            {
                continue;
            }
            seenGeneration = generation;
            try
            {
                ClaimAndRun(generation, body, args, taskCount);
            }
            catch (Exception ex)
            {
                // Kernels do not throw on valid input; a failure here is a bug that must not kill the process silently.
                Environment.FailFast("SharpGPT worker task failed.", ex);
            }
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (_workers.Length > 0)
        {
            _wake.Release(_workers.Length);
        }
        foreach (Thread worker in _workers)
        {
            worker.Join(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Splits [0, total) into <paramref name="parts"/> near-equal ranges and returns range <paramref name="part"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (int Start, int End) Partition(int total, int parts, int part)
    {
        int baseSize = total / parts;
        int remainder = total % parts;
        int start = part * baseSize + Math.Min(part, remainder);
        int end = start + baseSize + (part < remainder ? 1 : 0);
        return (start, end);
    }
}
