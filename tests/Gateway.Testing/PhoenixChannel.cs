namespace Gateway.Testing;

/// <summary>A joined channel on one <see cref="PhoenixConnection"/>.</summary>
/// <param name="JoinRefJson">The join's join_ref as sent (raw JSON); Phoenix's socket keeps this one and puts it in phx_close/phx_error.</param>
/// <param name="ChannelJoinRefJson">join_ref || ref: what the channel process puts in its replies and pushes.</param>
internal sealed record PhoenixChannel(string Topic, string JoinRefJson, string ChannelJoinRefJson);
