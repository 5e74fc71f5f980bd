using SharpGpt.Training;

namespace SharpGpt.Cli.Commands;

/// <summary>
/// The live training line: step, loss, learning rate, tokens/s and time left. On a terminal it rewrites one
/// line; when output is redirected (CI logs) it prints a line every few seconds instead.
/// </summary>
internal sealed class ConsoleProgress(TextWriter output) : IProgress<TrainingProgress>
{
    private readonly bool _interactive = !Console.IsOutputRedirected && output == Console.Out;
    private DateTime _lastPrinted = DateTime.MinValue;

    public void Report(TrainingProgress p)
    {
        string line = $"step {p.Step}/{p.TotalSteps} | loss {p.Loss:F4} | lr {p.LearningRate:E2} | {p.TokensPerSecond:F0} tok/s | " +
            $"elapsed {Format(p.Elapsed)} | left {Format(p.Remaining)}" + (p.ValidationLoss is double v ? $" | val {v:F4} (ppl {Math.Exp(v):F1})" : "");
        if (_interactive)
        {
            output.Write("\r" + line.PadRight(Math.Max(line.Length, Console.WindowWidth - 1)));
            if (p.ValidationLoss != null || p.Step == p.TotalSteps)
            {
                output.WriteLine();
            }
        }
        else if (p.ValidationLoss != null || p.Step == p.TotalSteps || DateTime.UtcNow - _lastPrinted > TimeSpan.FromSeconds(10))
        {
            output.WriteLine(line);
            _lastPrinted = DateTime.UtcNow;
        }
    }

    private static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}" : $"{t.Minutes}:{t.Seconds:D2}";
}

/// <summary>Turns the first Ctrl-C into a clean stop (finish the step, write a checkpoint); a second one kills.</summary>
internal sealed class InterruptHandler : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly CancellationTokenRegistration _registration;

    public InterruptHandler(CancellationToken outer)
    {
        _source = CancellationTokenSource.CreateLinkedTokenSource(outer);
        Console.CancelKeyPress += OnCancel;
        _registration = outer.Register(() => Console.Error.WriteLine("\nstopping after this step and writing a checkpoint…"));
    }

    public CancellationToken Token => _source.Token;

    private void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        if (!_source.IsCancellationRequested)
        {
            e.Cancel = true;
            Console.Error.WriteLine("\nstopping after this step and writing a checkpoint (Ctrl-C again to abort)…");
            _source.Cancel();
        }
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancel;
        _registration.Dispose();
        _source.Dispose();
    }
}
