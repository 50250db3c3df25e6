% Purpose: find the option that is the date a question asks for, from a date the
%   question relates to today. Date arithmetic uses SWI-Prolog's date support:
%   date_time_stamp/2 normalises days and months out of range, so adding 40 days
%   or 14 months lands on the right calendar date, leap years included.
% Inputs:
%   anchor(Y, M, D, N, U, W)   the date Y-M-D is N units U (day, week, month, year)
%                              after or before (W) today; N = 0 means it is today.
%   holiday(H, Y, N, U, W)     holiday H of year Y is N units U after or before today.
%   ask(N, U, W)               the question asks for the date N units U after or
%                              before (W) today.
%   option(L, M, D, Y)         option L is the date M/D/Y.
% Answer: answer(L) for the option that is the date asked for. Several answers when
%   the inputs put today on different dates.
% Provenance: derived by the reason developers (Claude, a language model) from the
%   date_understanding questions of the BBH training split, and checked against the
%   teacher annotations in training/records/date_understanding.jsonl. Holiday dates
%   are the teacher's, in holidays.pl.

:- dynamic anchor/6, holiday/5, ask/3, option/4.

% Define: moving a date by N units forwards (after) or backwards (before).
signed(N, after, N).
signed(N, before, S) :- S is -N.

shift(date(Y, M, D), N, day, Date) :- D1 is D + N, normal(Y, M, D1, Date).
shift(date(Y, M, D), N, week, Date) :- D1 is D + 7 * N, normal(Y, M, D1, Date).
shift(date(Y, M, D), N, month, Date) :- M1 is M + N, normal(Y, M1, D, Date).
shift(date(Y, M, D), N, year, Date) :- Y1 is Y + N, normal(Y1, M, D, Date).

normal(Y, M, D, date(Y2, M2, D2)) :-
    date_time_stamp(date(Y, M, D, 0, 0, 0, 0, -, -), Stamp),
    stamp_date_time(Stamp, date(Y2, M2, D2, _, _, _, _, _, _), 'UTC').

% Define: today, from each date the question relates to it.
today(Today) :- anchor(Y, M, D, N, U, W), signed(N, W, S), Back is -S, shift(date(Y, M, D), Back, U, Today).
today(Today) :- holiday(H, Y, N, U, W), holiday_date(H, M, D), signed(N, W, S), Back is -S,
    shift(date(Y, M, D), Back, U, Today).

% Define: the date asked for, and the option that names it.
asked(Date) :- today(Today), ask(N, U, W), signed(N, W, S), shift(Today, S, U, Date).
answer(L) :- asked(date(Y, M, D)), option(L, M, D, Y).
