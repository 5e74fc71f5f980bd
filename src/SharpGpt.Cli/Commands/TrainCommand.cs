using System.CommandLine;
using SharpGpt.Model;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Tokenization;
using SharpGpt.Tensors.Random;
using SharpGpt.Training;
using SharpGpt.Training.Checkpoints;
using SharpGpt.Training.Data;
using SharpGpt.Training.Distributed;
using SharpGpt.Training.Optimization;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt train`: pretrain a GPT from scratch with the GPT-3 recipe.</summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter output)
    {
        var preset = new Option<string?>("--preset", "-p") { Description = "Architecture preset" };
        var config = new Option<string?>("--config") { Description = "SharpGPT config JSON (instead of --preset)" };
        var data = new Option<string>("--data", "-d") { Description = "Folder made by 'sharpgpt prepare'", Required = true };
        var outDir = new Option<string>("--out", "-o") { Description = "Output folder (checkpoints, metrics, plot, exported model)", Required = true };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch", "-b") { Description = "Sequences per micro-batch", DefaultValueFactory = _ => 4 };
        var seq = new Option<int?>("--seq") { Description = "Sequence length (default: the context length, at most 1024)" };
        var batchTokens = new Option<int?>("--batch-tokens") { Description = "Target tokens per optimizer step, reached by gradient accumulation" };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => 6e-4 };
        var warmup = new Option<int>("--warmup") { Description = "Linear warm-up steps", DefaultValueFactory = _ => 100 };
        var decay = new Option<int?>("--decay-steps") { Description = "Steps of cosine decay to 10% (default: all steps)" };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay on matrices", DefaultValueFactory = _ => 0.1 };
        var clip = new Option<double>("--clip") { Description = "Global gradient-norm clip", DefaultValueFactory = _ => 1.0 };
        var rampTokens = new Option<long>("--ramp-tokens") { Description = "GPT-3 batch-size ramp: tokens over which the batch grows to full (0 = off)" };
        var rampStart = new Option<long>("--ramp-start-tokens") { Description = "Batch size in tokens at the start of the ramp", DefaultValueFactory = _ => 32768 };
        var evalInterval = new Option<int>("--eval-interval") { Description = "Steps between validation evaluations", DefaultValueFactory = _ => 100 };
        var evalSequences = new Option<int>("--eval-sequences") { Description = "Validation sequences per evaluation", DefaultValueFactory = _ => 64 };
        var checkpointInterval = new Option<int>("--checkpoint-interval") { Description = "Steps between checkpoints", DefaultValueFactory = _ => 200 };
        var keep = new Option<int>("--keep") { Description = "Checkpoints to keep (plus the best)", DefaultValueFactory = _ => 3 };
        var seed = new Option<ulong>("--seed") { Description = "Seed for initialisation and data order", DefaultValueFactory = _ => 1 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the latest checkpoint in --out" };
        var dtype = new Option<string>("--export-dtype") { Description = "Storage type of the exported model: f32, f16 or bf16", DefaultValueFactory = _ => "f32" };
        var zero = new Option<int>("--zero") { Description = "ZeRO stage for data parallelism under mpirun: 0 (all-reduce), 1 (shard Adam moments), 2 (+ gradients), 3 (+ parameters)" };
        var collectiveTimeout = new Option<double>("--collective-timeout") { Description = "Seconds a rank waits in one collective before it stops the job (a peer died)", DefaultValueFactory = _ => 300 };
        var threads = CommonOptions.Threads();
        var command = new Command("train", "Pretrain a GPT from scratch (GPT-3 recipe: AdamW, warm-up + cosine, clipping, accumulation).")
        {
            preset, config, data, outDir, steps, batch, seq, batchTokens, lr, warmup, decay, weightDecay, clip, rampTokens, rampStart,
            evalInterval, evalSequences, checkpointInterval, keep, seed, resume, dtype, zero, collectiveTimeout, threads,
        };
        command.SetAction((parse, cancellation) =>
        {
            CommonOptions.ApplyThreads(parse, threads);
            if ((parse.GetValue(preset) == null) == (parse.GetValue(config) == null))
            {
                throw new ArgumentException("give exactly one of --preset or --config.");
            }
            GptConfig modelConfig = parse.GetValue(preset) is string p ? GptPresets.Get(p) : ConfigJson.Load(parse.GetValue(config)!);
            string output_ = parse.GetValue(outDir)!;
            int time = parse.GetValue(seq) ?? Math.Min(modelConfig.ContextLength, 1024);
            int micro = parse.GetValue(batch);
            if (time < 2 || time > modelConfig.ContextLength || micro < 1)
            {
                throw new ArgumentException($"--seq must be between 2 and the context length {modelConfig.ContextLength}, and --batch at least 1.");
            }
            int accumulation = parse.GetValue(batchTokens) is int target ? Math.Max(1, (int)Math.Round((double)target / (micro * time))) : 1;
            var options = new TrainerOptions
            {
                OutputDirectory = output_,
                Steps = parse.GetValue(steps),
                AccumulationSteps = accumulation,
                LearningRate = parse.GetValue(lr),
                WarmupSteps = parse.GetValue(warmup),
                DecaySteps = parse.GetValue(decay),
                Adam = new AdamWSettings(WeightDecay: parse.GetValue(weightDecay), GradientClip: parse.GetValue(clip)),
                Ramp = new BatchSizeRamp(parse.GetValue(rampStart), parse.GetValue(rampTokens)),
                EvalInterval = parse.GetValue(evalInterval),
                CheckpointInterval = parse.GetValue(checkpointInterval),
                KeepCheckpoints = parse.GetValue(keep),
                Seed = parse.GetValue(seed),
                RunName = modelConfig.Name,
            };
            int stage = parse.GetValue(zero);
            if (stage is < 0 or > 3)
            {
                throw new ArgumentException("--zero must be 0, 1, 2 or 3.");
            }
            using ICommunicator comm = MpiCommunicator.Create(TimeSpan.FromSeconds(parse.GetValue(collectiveTimeout)));
            bool leader = comm.Rank == 0;
            TextWriter console = leader ? output : TextWriter.Null;
            MemoryCheck.Require(modelConfig, micro, time, comm.Size, stage);
            using var dataset = TokenDataset.Open(parse.GetValue(data)!);
            if (dataset.Manifest.VocabSize > modelConfig.VocabSize)
            {
                throw new ArgumentException($"the data uses a vocabulary of {dataset.Manifest.VocabSize}, larger than the model's {modelConfig.VocabSize}.");
            }
            var trainingData = new PretrainingData(dataset, micro, time, options.Seed, parse.GetValue(evalSequences), comm.Rank, comm.Size);
            using var model = new GptModel(modelConfig);
            model.InitializeGpt2(new Rng(options.Seed));
            string? resumeFrom = null;
            if (parse.GetValue(resume))
            {
                resumeFrom = new CheckpointDirectory(Path.Combine(output_, "checkpoints")).Latest
                    ?? throw new ArgumentException($"--resume: no checkpoint in {output_}/checkpoints.");
            }
            using var trainer = new Trainer(model, trainingData, options, communicator: comm, zeroStage: stage);
            RankReport.Write(output_, comm, trainer.Zero!);
            console.WriteLine($"training {modelConfig.Name}: {model.Layout.ParameterCount:N0} parameters, " +
                $"batch {comm.Size}×{micro}×{time}×{accumulation} = {(long)comm.Size * micro * time * accumulation:N0} tokens/step" +
                (comm.Size > 1 ? $" on {comm.Size} ranks with ZeRO stage {stage}" : "") +
                $", {options.Steps} steps, {dataset.Manifest.Train.Tokens:N0} training tokens ({trainingData.SequencesPerEpoch:N0} sequences/epoch)" +
                (resumeFrom != null ? $", resuming from {resumeFrom}" : ""));
            using var interrupt = new InterruptHandler(cancellation);
            TrainingResult result = trainer.Run(interrupt.Token, new ConsoleProgress(console), resumeFrom);
            string exported = Path.Combine(output_, "model");
            if (stage == 3)
            {
                // Parameters are sharded: rebuild them from the final checkpoint for the export.
                comm.Barrier();
                if (leader)
                {
                    using var full = new GptModel(modelConfig);
                    Trainer.LoadWeights(result.LastCheckpoint!, full);
                    HfModelSaver.Save(full, exported, Gpt2Tokenizer.Default, ExportCommand.ParseDType(parse.GetValue(dtype)!));
                }
            }
            else if (leader)
            {
                HfModelSaver.Save(model, exported, Gpt2Tokenizer.Default, ExportCommand.ParseDType(parse.GetValue(dtype)!));
            }
            console.WriteLine($"{(result.Interrupted ? "stopped" : "done")} at step {result.Step}; best validation loss {result.BestValidationLoss:F4} (step {result.BestStep}); " +
                $"checkpoint {result.LastCheckpoint}; model exported to {exported}");
            comm.Barrier();
            return Task.FromResult(0);
        });
        return command;
    }
}
