% Purpose: find the option that is the date a question asks for, from a date the
%   question relates to today. Date arithmetic uses SWI-Prolog's date support:
%   date_time_stamp/2 normalises days out of range, so adding 40 days lands on the
%   right calendar date, leap years included; a shift by months or years that
%   lands on a missing day (February 30) takes the last day of that month.
% Inputs:
%   anchor(Y, M, D, N, U, W)   the date Y-M-D is N units U (day, week, month, year)
%                              after or before (W) today; N = 0 means it is today.
%   holiday(H, Y, N, U, W)     holiday H of year Y is N units U after or before today.
%   month_end(Y, M, N, U, W)   the last day of month M of year Y is N units U after or
%                              before today.
%   weekday_in_month(Y, M, K, Day, N, U, W)
%                              the K-th (1 to 5) weekday Day (monday to sunday) of month M
%                              of year Y is N units U after or before today.
%   ask(N, U, W)               the question asks for the date N units U after or
%                              before (W) today.
%   option(L, M, D, Y)         option L is the date M/D/Y.
% Answer: answer(L) for the option that is the date asked for. Several answers when
%   the inputs put today on different dates.
% Provenance: derived by the reason developers (Claude, a language model) from the
%   date_understanding questions of the BBH training split, and checked against the
%   teacher annotations in training/records/date_understanding.jsonl. Holiday dates
%   are the teacher's, in holidays.pl.

:- dynamic anchor/6, holiday/5, month_end/5, weekday_in_month/7, ask/3, option/4.

% Define: moving a date by N units forwards (after) or backwards (before).
signed(N, after, N).
signed(N, before, S) :- S is -N.

shift(date(Y, M, D), N, day, Date) :- D1 is D + N, normal(Y, M, D1, Date).
shift(date(Y, M, D), N, week, Date) :- D1 is D + 7 * N, normal(Y, M, D1, Date).
% A month or a year later keeps the day of the month. When that month is shorter, it
% takes the month's last day: one month after January 31 is February 28 (or 29).
% One year after February 29 is February 28.
shift(date(Y, M, D), N, month, date(Y1, M1, D1)) :-
    Months is 12 * Y + M - 1 + N, Y1 is Months div 12, M1 is Months mod 12 + 1,
    last_day(Y1, M1, Last), D1 is min(D, Last).
shift(date(Y, M, D), N, year, date(Y1, M, D1)) :- Y1 is Y + N, last_day(Y1, M, Last), D1 is min(D, Last).

% Define: the last day of month M of year Y (day 0 of the next month, normalised).
last_day(Y, M, Last) :- M1 is M + 1, normal(Y, M1, 0, date(_, _, Last)).

% A date too far away for SWI-Prolog's time stamps has no normal form, so a question
% that shifts by 10^11 months gets no answer rather than an error. Only that
% representation error is caught; any other error still reports a bug in the rules.
normal(Y, M, D, date(Y2, M2, D2)) :-
    catch(date_time_stamp(date(Y, M, D, 0, 0, 0, 0, -, -), Stamp),
          error(representation_error(_), _), fail),
    stamp_date_time(Stamp, date(Y2, M2, D2, _, _, _, _, _, _), 'UTC').

% Define: each date the question relates to today, with its signed distance from today.
%   A month outside 1 to 12 or a day the month does not have (February 30) is no date:
%   time stamps would carry it into the next month or year, a date the question never gave.
given(date(Y, M, D), S, U) :- anchor(Y, M, D, N, U, W), calendar_date(Y, M, D), signed(N, W, S).
given(date(Y, M, D), S, U) :- holiday(H, Y, N, U, W), holiday_date(H, M, D), signed(N, W, S).
given(date(Y, M, D), S, U) :- month_end(Y, M, N, U, W), between(1, 12, M), last_day(Y, M, D), signed(N, W, S).
given(date(Y, M, D), S, U) :- weekday_in_month(Y, M, K, Name, N, U, W), between(1, 12, M),
    nth_weekday(Y, M, K, Name, D), signed(N, W, S).
calendar_date(Y, M, D) :- between(1, 12, M), last_day(Y, M, Last), between(1, Last, D).

% Define: the day of the month of the K-th weekday Name of month M of year Y. SWI-Prolog's
%   day_of_the_week/2 numbers Monday 1 to Sunday 7. A fifth weekday that the month does
%   not have gives no date, and so does a year too far away for time stamps (as in
%   normal/4, only that representation error is caught).
weekday_number(monday, 1). weekday_number(tuesday, 2). weekday_number(wednesday, 3).
weekday_number(thursday, 4). weekday_number(friday, 5). weekday_number(saturday, 6).
weekday_number(sunday, 7).
nth_weekday(Y, M, K, Name, D) :- weekday_number(Name, Wanted), integer(K), K >= 1,
    catch(day_of_the_week(date(Y, M, 1), First), error(representation_error(_), _), fail),
    D is 1 + (Wanted - First + 7) mod 7 + 7 * (K - 1),
    last_day(Y, M, Last), D =< Last.

% Define: the date asked for, from each given date, and the option that names it.
%   In the given date's unit, the date is shifted once by the difference, because a
%   month shift cannot always be undone (one month before February 28 is January 28).
%   So "01/31 was one month ago; what was the date one month ago?" stays 01/31.
%   In another unit, the date goes through today.
asked(Date) :- given(Given, S, U), ask(N, U, W), signed(N, W, T), Difference is T - S,
    shift(Given, Difference, U, Date).
asked(Date) :- given(Given, S, U), ask(N, V, W), V \== U, Back is -S, shift(Given, Back, U, Today),
    signed(N, W, T), shift(Today, T, V, Date).
answer(L) :- asked(date(Y, M, D)), option(L, M, D, Y).
