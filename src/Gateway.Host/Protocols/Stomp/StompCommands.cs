namespace Gateway.Host.Protocols.Stomp;

/// <summary>What the STOMP 1.2 specification says about each command: its wire name, who sends it, whether it may carry a body, whether its headers are escaped.</summary>
internal static class StompCommands
{
    /// <summary>CONNECTED, MESSAGE, RECEIPT, ERROR: the only frames a server sends.</summary>
    public static bool IsServerCommand(StompCommand command) => command is >= StompCommand.Connected and <= StompCommand.Error;

    /// <summary>CONNECT to DISCONNECT: the frames a client sends.</summary>
    public static bool IsClientCommand(StompCommand command) => command is >= StompCommand.Connect and <= StompCommand.Disconnect;

    /// <summary>"Only the SEND, MESSAGE, and ERROR frames MAY have a body."</summary>
    public static bool MayHaveBody(StompCommand command) => command is StompCommand.Send or StompCommand.Message or StompCommand.Error;

    /// <summary>"All frames except the CONNECT and CONNECTED frames" escape CR, LF, ':' and '\' in their headers (STOMP 1.0 compatibility).</summary>
    public static bool EscapesHeaders(StompCommand command) => command is not (StompCommand.Connect or StompCommand.Connected);

    /// <summary>The command's name as it is written on the wire.</summary>
    public static ReadOnlySpan<byte> Utf8Name(StompCommand command) => command switch
    {
        StompCommand.Connected => "CONNECTED"u8,
        StompCommand.Message => "MESSAGE"u8,
        StompCommand.Receipt => "RECEIPT"u8,
        StompCommand.Error => "ERROR"u8,
        StompCommand.Connect => "CONNECT"u8,
        StompCommand.Stomp => "STOMP"u8,
        StompCommand.Send => "SEND"u8,
        StompCommand.Subscribe => "SUBSCRIBE"u8,
        StompCommand.Unsubscribe => "UNSUBSCRIBE"u8,
        StompCommand.Begin => "BEGIN"u8,
        StompCommand.Commit => "COMMIT"u8,
        StompCommand.Abort => "ABORT"u8,
        StompCommand.Ack => "ACK"u8,
        StompCommand.Nack => "NACK"u8,
        StompCommand.Disconnect => "DISCONNECT"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, "not a STOMP command"),
    };

    /// <summary>The command a command line names; exact, case-sensitive match, no trimming.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out StompCommand command)
    {
        command = line.Length switch
        {
            3 when line.SequenceEqual("ACK"u8) => StompCommand.Ack,
            4 when line.SequenceEqual("SEND"u8) => StompCommand.Send,
            4 when line.SequenceEqual("NACK"u8) => StompCommand.Nack,
            5 when line.SequenceEqual("ERROR"u8) => StompCommand.Error,
            5 when line.SequenceEqual("STOMP"u8) => StompCommand.Stomp,
            5 when line.SequenceEqual("BEGIN"u8) => StompCommand.Begin,
            5 when line.SequenceEqual("ABORT"u8) => StompCommand.Abort,
            6 when line.SequenceEqual("COMMIT"u8) => StompCommand.Commit,
            7 when line.SequenceEqual("MESSAGE"u8) => StompCommand.Message,
            7 when line.SequenceEqual("RECEIPT"u8) => StompCommand.Receipt,
            7 when line.SequenceEqual("CONNECT"u8) => StompCommand.Connect,
            9 when line.SequenceEqual("CONNECTED"u8) => StompCommand.Connected,
            9 when line.SequenceEqual("SUBSCRIBE"u8) => StompCommand.Subscribe,
            10 when line.SequenceEqual("DISCONNECT"u8) => StompCommand.Disconnect,
            11 when line.SequenceEqual("UNSUBSCRIBE"u8) => StompCommand.Unsubscribe,
            _ => StompCommand.None,
        };
        return command != StompCommand.None;
    }
}
