using SharpGpt.Model.Lora;
using SharpGpt.Tensors.Memory;

namespace SharpGpt.Model.Training;

/// <summary>
/// A model's training computation on some hardware: forward, loss and backward for batches up to
/// (MaxBatch, MaxTime), with gradients accumulated until <see cref="ZeroGradients"/>. <see cref="TrainingGraph"/>
/// is the CPU implementation; a GPU backend implements this over device memory (see <see cref="Backends.IComputeBackend"/>).
/// </summary>
public interface ITrainingGraph : IDisposable
{
    GptModel Model { get; }

    int MaxBatch { get; }

    int MaxTime { get; }

    /// <summary>Bytes of activations and scratch the graph holds.</summary>
    long ActivationBytes { get; }

    /// <summary>Positions with a target in the last forward pass.</summary>
    int CountedTargets { get; }

    /// <summary>∂loss/∂parameters in host memory, laid out like the parameters (full parameter storage only).</summary>
    NativeBuffer Gradients { get; }

    /// <summary>∂loss/∂adapter while a LoRA adapter is attached.</summary>
    NativeBuffer? LoraGradients { get; }

    /// <summary>When set, each kernel's wall time is charged to its phase.</summary>
    StepProfile? Profile { get; set; }

    /// <summary>Trains the adapter instead of the base weights.</summary>
    void AttachLora(LoraAdapter adapter);

    void ZeroGradients();

    /// <summary>Mean cross-entropy of tokens (B·T) against targets (B·T; −1 = ignored), evaluation only.</summary>
    float Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int time);

    /// <summary>Forward, then gradients accumulated with each counted position weighted by lossWeight (default 1/count).</summary>
    float ForwardBackward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int time, float? lossWeight = null);
}
