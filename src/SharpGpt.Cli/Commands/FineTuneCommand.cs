using System.CommandLine;
using SharpGpt.Inference;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Lora;
using SharpGpt.Tensors.Random;
using SharpGpt.Training;
using SharpGpt.Training.Checkpoints;
using SharpGpt.Training.FineTuning;
using SharpGpt.Training.Optimization;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt finetune`: full or LoRA fine-tuning on prompt/completion or text JSONL, with validation and early stopping.</summary>
internal static class FineTuneCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CommonOptions.Model("Base model folder (default: the built-in model)");
        var data = new Option<string>("--data", "-d") { Description = "JSONL of {\"prompt\",\"completion\"} or {\"text\"} records", Required = true };
        var outDir = new Option<string>("--out", "-o") { Description = "Output folder", Required = true };
        var lora = new Option<bool>("--lora") { Description = "Train a LoRA adapter instead of all weights" };
        var rank = new Option<int>("--lora-rank") { Description = "LoRA rank", DefaultValueFactory = _ => 8 };
        var alpha = new Option<float>("--lora-alpha") { Description = "LoRA alpha (scale = alpha / rank)", DefaultValueFactory = _ => 16 };
        var targets = new Option<string>("--lora-targets") { Description = "Comma-separated: qkv, attn-proj, mlp-fc, mlp-proj", DefaultValueFactory = _ => "qkv,attn-proj,mlp-fc,mlp-proj" };
        var epochs = new Option<double>("--epochs") { Description = "Passes over the training examples", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch", "-b") { Description = "Examples per micro-batch", DefaultValueFactory = _ => 4 };
        var accumulation = new Option<int>("--accumulation") { Description = "Micro-batches per optimizer step", DefaultValueFactory = _ => 1 };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (default 1e-4 full, 1e-3 LoRA)" };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up steps", DefaultValueFactory = _ => 10 };
        var validation = new Option<double>("--val-fraction") { Description = "Examples held out for validation", DefaultValueFactory = _ => 0.1 };
        var patience = new Option<int>("--patience") { Description = "Stop after this many evaluations without improvement (0 = off)", DefaultValueFactory = _ => 2 };
        var evalInterval = new Option<int?>("--eval-interval") { Description = "Steps between evaluations (default: once per epoch)" };
        var maxLength = new Option<int?>("--max-length") { Description = "Longest example in tokens (default: the model's context)" };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 1 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the latest checkpoint in --out" };
        var threads = CommonOptions.Threads();
        var command = new Command("finetune", "Fine-tune a model (full or LoRA) on prompt/completion or text JSONL.")
        {
            model, data, outDir, lora, rank, alpha, targets, epochs, batch, accumulation, lr, warmup, validation, patience, evalInterval, maxLength, seed, resume, threads,
        };
        command.SetAction((parse, cancellation) =>
        {
            CommonOptions.ApplyThreads(parse, threads);
            using LanguageModel language = LanguageModel.LoadOrDefault(parse.GetValue(model));
            var tokenizer = language.RequireTokenizer();
            int length = Math.Min(parse.GetValue(maxLength) ?? language.Config.ContextLength, language.Config.ContextLength);
            var loaded = FineTuneDataset.Load(parse.GetValue(data)!, tokenizer, length);
            var (train, held) = FineTuneDataset.Split(loaded.Examples, parse.GetValue(validation), parse.GetValue(seed));
            var trainingData = new FineTuneData(train, held, parse.GetValue(batch), tokenizer.EndOfTextId, parse.GetValue(seed));
            bool useLora = parse.GetValue(lora);
            int stepsPerEpoch = Math.Max(1, (int)Math.Ceiling((double)train.Count / (parse.GetValue(batch) * parse.GetValue(accumulation))));
            int steps = Math.Max(1, (int)Math.Ceiling(parse.GetValue(epochs) * stepsPerEpoch));
            string output_ = parse.GetValue(outDir)!;
            var options = new TrainerOptions
            {
                OutputDirectory = output_,
                Steps = steps,
                AccumulationSteps = parse.GetValue(accumulation),
                LearningRate = parse.GetValue(lr) ?? (useLora ? 1e-3 : 1e-4),
                WarmupSteps = Math.Min(parse.GetValue(warmup), steps / 2),
                Adam = new AdamWSettings(WeightDecay: useLora ? 0.0 : 0.1),
                EvalInterval = parse.GetValue(evalInterval) ?? stepsPerEpoch,
                CheckpointInterval = stepsPerEpoch,
                EarlyStoppingPatience = held.Count > 0 ? parse.GetValue(patience) : 0,
                Seed = parse.GetValue(seed),
                RunName = $"fine-tune of {language.Name}{(useLora ? " (LoRA)" : "")}",
            };
            using LoraAdapter? adapter = useLora
                ? new LoraAdapter(language.Config, new LoraSettings { Rank = parse.GetValue(rank), Alpha = parse.GetValue(alpha), Targets = ParseTargets(parse.GetValue(targets)!) })
                : null;
            adapter?.Initialize(new Rng(parse.GetValue(seed)));
            using var trainer = new Trainer(language.Model, trainingData, options, adapter);
            string? resumeFrom = parse.GetValue(resume)
                ? trainer.Checkpoints.Latest ?? throw new ArgumentException($"--resume: no checkpoint in {output_}/checkpoints.")
                : null;
            output.WriteLine($"fine-tuning {language.Name} ({(useLora ? $"LoRA r={adapter!.Settings.Rank}, {adapter.ParameterCount:N0} trainable parameters" : $"all {language.Model.Layout.ParameterCount:N0} parameters")}): " +
                $"{train.Count} train / {held.Count} validation examples ({loaded.CompletionOnly} prompt/completion, {loaded.PlainText} text, {loaded.Truncated} truncated), {steps} steps");
            using var interrupt = new InterruptHandler(cancellation);
            TrainingResult result = trainer.Run(interrupt.Token, new ConsoleProgress(output), resumeFrom);

            // Export the best checkpoint by validation loss when there is one, else the final weights.
            string? best = trainer.Checkpoints.Best;
            if (best != null && result.BestStep != result.Step)
            {
                if (adapter != null)
                {
                    Trainer.LoadAdapter(best, adapter);
                }
                else
                {
                    Trainer.LoadWeights(best, language.Model);
                }
            }
            string exported = Path.Combine(output_, useLora ? LoraAdapter.RunSubfolder : "model");
            if (adapter != null)
            {
                adapter.Save(exported, language.Source);
            }
            else
            {
                HfModelSaver.Save(language.Model, exported, tokenizer);
            }
            output.WriteLine($"{(result.StoppedEarly ? "stopped early" : result.Interrupted ? "stopped" : "done")} at step {result.Step}; " +
                $"best validation loss {result.BestValidationLoss:F4} at step {result.BestStep}; saved {(useLora ? "adapter" : "model")} to {exported}");
            return Task.FromResult(0);
        });
        return command;
    }

    private static LoraTarget[] ParseTargets(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(t => t.ToLowerInvariant() switch
        {
            "qkv" or "c_attn" => LoraTarget.Qkv,
            "attn-proj" or "attn.proj" or "out_proj" => LoraTarget.AttentionOutput,
            "mlp-fc" or "fc" or "c_fc" => LoraTarget.MlpUp,
            "mlp-proj" or "mlp.proj" => LoraTarget.MlpDown,
            _ => throw new ArgumentException($"unknown LoRA target '{t}' (use qkv, attn-proj, mlp-fc, mlp-proj)."),
        }).Distinct().ToArray();
}
