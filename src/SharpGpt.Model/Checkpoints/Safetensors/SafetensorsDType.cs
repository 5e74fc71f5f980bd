namespace SharpGpt.Model.Checkpoints.Safetensors;

/// <summary>Element types of the safetensors format. SharpGPT reads and writes the three float types.</summary>
public enum SafetensorsDType
{
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

public static class SafetensorsDTypes
{
    public static int SizeOf(SafetensorsDType type) => type switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.I16 => 2,
        _ => 1,
    };

    public static bool TryParse(string text, out SafetensorsDType type)
    {
        switch (text)
        {
            case "F32": type = SafetensorsDType.F32; return true;
            case "F16": type = SafetensorsDType.F16; return true;
            case "BF16": type = SafetensorsDType.BF16; return true;
            case "F64": type = SafetensorsDType.F64; return true;
            case "I64": type = SafetensorsDType.I64; return true;
            case "I32": type = SafetensorsDType.I32; return true;
            case "I16": type = SafetensorsDType.I16; return true;
            case "I8": type = SafetensorsDType.I8; return true;
            case "U8": type = SafetensorsDType.U8; return true;
            case "BOOL": type = SafetensorsDType.Bool; return true;
            default: type = default; return false;
        }
    }

    public static string Name(SafetensorsDType type) => type == SafetensorsDType.Bool ? "BOOL" : type.ToString();

    public static bool IsFloat(SafetensorsDType type) => type is SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16;
}
