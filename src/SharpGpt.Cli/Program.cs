using SharpGpt.Cli;

return SharpGptCommandLine.Run(args, Console.Out, Console.Error);
