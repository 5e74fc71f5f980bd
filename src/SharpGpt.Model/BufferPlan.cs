namespace SharpGpt.Model;

/// <summary>Hands out 64-byte aligned offsets in one flat float buffer, so a whole set of activations is one allocation.</summary>
internal sealed class BufferPlan
{
    private const int AlignmentFloats = 16;

    public long TotalFloats { get; private set; }

    public long Reserve(long floats)
    {
        long offset = TotalFloats;
        TotalFloats += (floats + AlignmentFloats - 1) / AlignmentFloats * AlignmentFloats;
        return offset;
    }

    public long[] Reserve(int count, long floatsEach)
    {
        long[] offsets = new long[count];
        for (int i = 0; i < count; i++)
        {
            offsets[i] = Reserve(floatsEach);
        }
        return offsets;
    }
}
