using System.CommandLine;
using SharpGpt.Cli.Commands;
using SharpGpt.Model;

namespace SharpGpt.Cli;

/// <summary>
/// Builds the command tree and runs it. Every user error (bad arguments, missing or broken files, invalid
/// options) ends as one line on stderr and a non-zero exit code; a stack trace means a bug.
/// </summary>
public static class SharpGptCommandLine
{
    public const int UsageError = 2;
    public const int Failure = 1;

    public static RootCommand Build(TextWriter output) => new("SharpGPT: train, fine-tune, evaluate and serve GPT models in .NET.")
    {
        InfoCommand.Create(output),
        GenerateCommand.Create(output),
        ScoreCommand.Create(output),
        PrepareCommand.Create(output),
        TrainCommand.Create(output),
        FineTuneCommand.Create(output),
        ConvertCommand.Create(output),
        ExportCommand.Create(output),
        MergeAdapterCommand.Create(output),
        EvalCommand.Create(output),
        ServeCommand.Create(output),
        LoadTestCommand.Create(output),
        InitCommand.Create(output),
        PlanCommand.Create(output),
        PerplexityCommand.Create(output),
        QuantizeCommand.Create(output),
        BenchCommand.Create(output),
    };

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        RootCommand root = Build(output);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            string command = parse.CommandResult.Command == root ? "" : parse.CommandResult.Command.Name + " ";
            error.WriteLine($"error: {parse.Errors[0].Message} (see 'sharpgpt {command}--help')");
            return UsageError;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output, Error = error });
        }
        catch (Exception ex) when (Unwrap(ex) is SharpGptException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            error.WriteLine($"error: {Unwrap(ex).Message}");
            return Failure;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("cancelled");
            return 130;
        }
    }

    private static Exception Unwrap(Exception ex) => ex is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : ex;
}
