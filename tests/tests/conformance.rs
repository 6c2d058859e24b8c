//! The conformance suite: every scenario of `castnet_tests::scenarios`, as a
//! test per runtime (`tokio::<group>::<scenario>`, `smol::...`).

use castnet_tests::scenarios::*;

castnet_tests::conformance! {
    timers {
        run_after_fires_once_with_its_token_in_deadline_order_within_max_timers,
        run_every_fires_repeatedly_until_cancelled,
        cancel_timers_stops_every_timer_of_the_session,
        closing_a_session_cancels_its_timers_and_refuses_new_ones,
        no_timer_fires_while_a_closing_session_drains_its_queue,
        a_timer_implements_an_application_timeout_that_closes_an_idle_session,
        the_server_tick_follows_the_interval_it_returns_and_stops_with_the_server,
    }
    broadcast {
        broadcast_to_everyone_arrives_once_at_each_session,
        report_counts_sent_closed_and_queue_full_per_recipient,
        timed_out_recipients_are_resent_to_with_broadcast_to,
        detached_broadcast_arrives_once_at_each_session_and_keeps_no_report,
        detached_channel_broadcast_reaches_members_only,
        a_session_that_falls_behind_the_broadcast_ring_misses_the_oldest_and_the_others_get_every_frame,
        detached_broadcasts_from_one_caller_arrive_in_order_at_every_session,
        a_channel_member_gets_detached_broadcasts_from_join_until_exit_in_order,
        a_kicked_member_stops_getting_the_channel_s_detached_broadcasts,
        rejoining_a_channel_gets_exactly_what_was_broadcast_while_a_member,
    }
    channels {
        join_exit_kick_and_membership_queries,
        a_kick_callback_may_use_the_channel_again,
        a_closed_session_leaves_every_channel_and_cannot_join_again,
        channel_broadcast_reaches_each_member_once_and_nobody_else,
    }
    client {
        a_client_learns_why_it_closed_peer_eof_local_frame_error_timeout_and_reset,
        a_dialled_handler_gets_open_then_its_sends_and_frames_then_close_with_its_state,
    }
    dial {
        dial_timeout_connects_when_the_server_answers_in_time,
        dial_timeout_gives_up_on_a_listener_whose_backlog_is_full,
        dial_to_a_port_nobody_listens_on_is_refused,
    }
    echo {
        tcp_echo_returns_every_frame_in_order_including_empty_ones,
        tcp_echo_through_the_session_handle_returns_every_frame_in_order,
        async_send_resolves_ok_once_the_bytes_are_written,
        unix_socket_echo_returns_every_frame_and_stop_removes_the_path,
        unix_socket_path_is_removed_when_stopped_before_serving,
    }
    faults {
        peer_reset_mid_frame_closes_only_that_session,
        half_close_by_the_client_still_gets_every_echo_before_the_server_closes,
        declared_length_over_the_max_disconnects_on_every_header_size,
        a_client_that_never_reads_gets_its_sends_refused_and_others_are_unaffected,
        a_client_that_never_reads_is_disconnected_by_policy_and_others_are_unaffected,
        a_reply_cut_off_by_the_peer_s_decode_error_is_counted_as_failed_closed,
    }
    handler {
        callbacks_arrive_open_then_frames_and_their_sends_then_close_once,
        callbacks_arrive_in_order_for_sends_through_the_session_handle,
        on_close_reports_local_aborted_peer_eof_reset_and_frame_errors,
        a_panicking_callback_ends_only_its_own_session_and_stop_still_completes,
        on_sent_is_not_called_unless_the_handler_asks_for_it_and_sends_still_complete,
        on_sent_is_not_called_for_handle_sends_unless_asked_and_their_room_comes_back,
        a_handler_flooding_its_own_session_is_held_to_the_queue_bound_every_time,
        quiet_replies_packed_together_keep_their_order_around_an_awaited_send,
    }
    heartbeat {
        heartbeat_keeps_an_idle_link_alive_and_peer_timeout_closes_it_once_stopped,
        peer_timeout_closes_a_silent_link_and_spares_a_beating_one,
        server_heartbeat_reaches_the_client_and_is_counted,
        server_heartbeat_set_through_the_handle_reaches_the_client,
    }
    limits {
        max_connections_refuses_cleanly_counts_and_releases_slots_on_close,
        max_per_ip_refuses_cleanly_counts_and_releases_slots_on_close,
    }
    quiet_heartbeat {
        peer_heartbeats_are_not_delivered_and_keep_a_session_alive_past_its_peer_timeout,
        a_client_s_recv_skips_the_server_s_heartbeats_and_a_handler_can_name_its_peer_s,
    }
    send {
        try_send_hands_the_message_back_when_full_and_send_waits_until_the_peer_reads,
        async_send_times_out_behind_a_stalled_peer_and_fails_closed_after_abort,
        async_send_refused_for_a_full_queue_resolves_queue_full_at_once,
        a_dropped_send_work_does_not_cancel_the_send,
        every_send_ends_exactly_once_in_its_send_work_and_in_on_sent,
        the_send_quota_is_released_exactly_once_per_admitted_frame,
        a_message_the_codec_refuses_is_reported_and_nothing_is_queued,
    }
    server {
        state_goes_starting_running_stopping_closed,
        stop_closes_the_listener_before_it_returns,
        serve_after_stop_is_an_error_and_stop_twice_is_harmless,
        registry_finds_sends_to_and_closes_sessions_by_id,
        stats_add_up_across_sessions,
        stop_with_frames_in_flight_resolves_every_accepted_send,
        stop_during_a_connection_storm_leaves_no_session_behind,
        connections_waiting_for_their_peer_hold_no_read_buffer_unless_a_frame_is_partial,
    }
    session {
        process_once_handles_one_frame_and_process_runs_until_the_session_closes,
        recv_on_a_handler_served_session_returns_none_at_once,
        frames_read_before_the_peer_closed_all_reach_recv,
        dropping_every_client_handle_closes_the_connection_after_its_sends,
        handles_send_from_many_tasks_and_every_frame_arrives_once,
    }
    typed {
        typed_messages_go_both_ways_with_every_send_form_and_broadcasts_serialise_once,
        a_typed_message_that_cannot_be_serialised_is_refused_on_every_path_and_nothing_is_sent,
        a_typed_codec_hands_values_to_handler_and_recv_and_malformed_frames_as_errors,
    }
    state {
        state_set_in_on_open_is_each_session_s_own_in_every_frame_and_at_close,
        a_closure_handler_keeps_state_too,
    }
}
