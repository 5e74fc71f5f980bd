using System.CommandLine;
using System.Globalization;
using SharpGpt.Model;
using SharpGpt.Training.Planning;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt plan`: what a run needs per device (ZeRO memory model), its communication and compute, before anyone pays for it.</summary>
internal static class PlanCommand
{
    public static Command Create(TextWriter output)
    {
        var preset = new Option<string?>("--preset", "-p") { Description = "Architecture preset (e.g. gpt3-175b)" };
        var parameters = new Option<string?>("--params") { Description = "Parameter count instead of a preset (e.g. 7.5e9)" };
        var ranks = new Option<int>("--ranks", "-n") { Description = "Data-parallel ranks (devices)", DefaultValueFactory = _ => 1 };
        var zero = new Option<int>("--zero") { Description = "ZeRO stage 0–3", DefaultValueFactory = _ => 0 };
        var micro = new Option<int>("--micro-batch") { Description = "Sequences per device per micro-batch", DefaultValueFactory = _ => 1 };
        var seq = new Option<int?>("--seq") { Description = "Sequence length (default: the context length)" };
        var precision = new Option<string>("--precision") { Description = "mixed (fp16 + fp32 Adam, the ZeRO paper's), bf16, or fp32", DefaultValueFactory = _ => "mixed" };
        var tokens = new Option<string?>("--tokens") { Description = "Training tokens (e.g. 300e9) for total compute and time" };
        var mfu = new Option<double>("--mfu") { Description = "Assumed model FLOPs utilisation", DefaultValueFactory = _ => 0.4 };
        var peak = new Option<string>("--device-flops") { Description = "Peak FLOP/s per device", DefaultValueFactory = _ => "312e12" };
        var memory = new Option<string?>("--device-memory") { Description = "Memory per device in bytes (e.g. 80e9) to check the fit" };
        var command = new Command("plan", "Estimate memory per device (ZeRO), communication, FLOPs and time of a training run.")
        {
            preset, parameters, ranks, zero, micro, seq, precision, tokens, mfu, peak, memory,
        };
        command.SetAction(parse =>
        {
            if ((parse.GetValue(preset) == null) == (parse.GetValue(parameters) == null))
            {
                throw new ArgumentException("give exactly one of --preset or --params.");
            }
            GptConfig? config = parse.GetValue(preset) is string p ? GptPresets.Get(p) : null;
            double count = config != null ? ParameterLayout.CountParameters(config) : Number(parse.GetValue(parameters)!, "--params");
            var input = new PlanInput
            {
                Parameters = count,
                Config = config,
                Ranks = parse.GetValue(ranks),
                ZeroStage = parse.GetValue(zero),
                MicroBatch = parse.GetValue(micro),
                SequenceLength = parse.GetValue(seq),
                Precision = parse.GetValue(precision)!.ToLowerInvariant() switch
                {
                    "mixed" or "fp16" => PlanPrecision.Mixed,
                    "bf16" => PlanPrecision.BFloat16,
                    "fp32" => PlanPrecision.Float32,
                    var other => throw new ArgumentException($"unknown precision '{other}' (mixed, bf16 or fp32)."),
                },
                Tokens = parse.GetValue(tokens) is string t ? Number(t, "--tokens") : null,
                Mfu = parse.GetValue(mfu),
                DevicePeakFlops = Number(parse.GetValue(peak)!, "--device-flops"),
                DeviceMemoryBytes = parse.GetValue(memory) is string m ? Number(m, "--device-memory") : null,
            };
            PlanResult r = TrainingPlanner.Plan(input);
            output.WriteLine($"model            {(config?.Name ?? "custom")}, {count:N0} parameters ({InfoCommand.FormatCount(count)})");
            output.WriteLine($"parallelism      {input.Ranks} ranks, ZeRO stage {input.ZeroStage}, {input.Precision} precision, micro-batch {input.MicroBatch}");
            output.WriteLine("per device:");
            output.WriteLine($"  parameters     {Gb(r.ParameterBytes)}");
            output.WriteLine($"  gradients      {Gb(r.GradientBytes)}");
            output.WriteLine($"  optimizer      {Gb(r.OptimizerBytes)}");
            output.WriteLine($"  model states   {Gb(r.ModelStateBytes)}");
            if (config != null)
            {
                output.WriteLine($"  activations    {Gb(r.ActivationBytes)} ({Gb(r.ActivationBytesWithRecompute)} with full recomputation)");
                output.WriteLine($"  total          {Gb(r.TotalBytes)} ({Gb(r.TotalBytesWithRecompute)} with recomputation)");
            }
            output.WriteLine($"communication    {Gb(r.CommunicationBytesPerStep)} per step per device ({(input.ZeroStage == 3 ? "3Ψ" : "2Ψ")} elements)");
            output.WriteLine($"compute          {r.FlopsPerToken:E3} FLOPs per token (6N)");
            if (r.TotalFlops is double total)
            {
                output.WriteLine($"                 {total:E3} FLOPs for {input.Tokens:E3} tokens ({total / 8.64e19:N0} PF-days)");
                output.WriteLine($"time             {r.Seconds / 86400:N1} days on {input.Ranks} devices at {input.Mfu:P0} of {input.DevicePeakFlops:E2} FLOP/s ({r.DeviceHours:N0} device-hours)");
            }
            if (input.DeviceMemoryBytes is double device)
            {
                bool fits = r.TotalBytesWithRecompute <= device;
                output.WriteLine($"fits {device / 1e9:F0} GB?     {(r.TotalBytes <= device ? "yes" : fits ? "only with activation recomputation" : "no")}" +
                    (TrainingPlanner.Advice(input) is string advice ? $"; {advice}" : ""));
            }
            return 0;
        });
        return command;
    }

    private static string Gb(double bytes) => $"{bytes / 1e9,10:F2} GB";

    private static double Number(string text, string option) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0
            ? value
            : throw new ArgumentException($"{option} '{text}' is not a positive number.");
}
