namespace Pb.Banana;

/// <summary>
/// The banana dialect ("profile") negotiated when a connection opens (PB-WIRE.md section 1.9).
/// </summary>
public enum BananaDialect
{
    /// <summary>Plain banana: byte strings are always written in full. Also the dialect before negotiation ends.</summary>
    None = 0,

    /// <summary>The <c>pb</c> dialect: the 31 vocabulary words travel as VOCAB indexes.</summary>
    Pb = 1,
}
