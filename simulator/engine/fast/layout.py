"""The fast engine's memory layout: a scenario and its run state as a few flat arrays.

The compiled event loop (:mod:`simulator.engine.fast.loop`) cannot hold Python
objects, and numba compiles a function much faster when it takes a few plain arrays
than when it takes a structure of fifty. So everything is packed:

* ``fixed_i`` / ``fixed_f``: what the scenario fixes (int / float): counts and switches at
  the front of ``fixed_i``, then tables, each at an offset that ``fixed_i``'s header records
  (``fixed_i[T_O_CHAIN]`` is where the gateway chains start, for instance). Per-client and
  per-function rows have named columns (``CI_*``, ``CF_*``, ``FI_*``, ``FF_*``).
* ``state_i`` / ``state_f``: what the run changes (int / float): the scalars below at the
  front (the clock, the next event id, ...), then tables of state (token counts, quota use,
  busy and idle environments, stream positions, bounded-memory counters), again at the
  offsets of ``fixed_i``'s header.
* arrays that grow or are large: quota window ends ``quota_ends``, random buffers
  ``randoms``, idle environments ``idle_envs``, the event heap (times ``heap_time``, keys
  ``heap_key``, values ``heap_value``: a slot of the events' fields in ``event_i`` and
  ``event_f``, or a release's function; a release's creation time ``heap_created``), the
  open clients' heap (``open_time``, ``open_key``, ``open_client``), attempt and request
  records, concurrency records, time-series bins, arrival buffers.

The loop takes them in four named groups (:class:`Tables`, :class:`Supplies`,
:class:`Queue`, :class:`Records`). :class:`Pack` assembles one flat array and remembers
where each table went.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from simulator import outcomes as oc

__all__ = ["GROUPS", "Pack", "Queue", "Records", "Supplies", "Tables"]


# --------------------------------------------------------------------------- the loop's arguments
# The compiled loop takes its arrays in four named groups (numba passes a tuple of arrays
# as cheaply as the arrays, and reads a field by name at no cost).


class Tables(NamedTuple):
    """The scenario (``fixed_*``) and the run's state (``state_*``), each an int and a float array."""

    fixed_i: np.ndarray
    fixed_f: np.ndarray
    state_i: np.ndarray
    state_f: np.ndarray


class Supplies(NamedTuple):
    """What the loop consumes and Python tops up: quota window ends, random numbers, open
    arrivals; and the idle execution environments (a ring per function: created, expires)."""

    quota_ends: np.ndarray
    randoms: np.ndarray
    arrival_time: np.ndarray
    arrival_route: np.ndarray
    idle_envs: np.ndarray


class Queue(NamedTuple):
    """The event heap (time, its bits, key, value, a release's creation time), the events'
    fields by slot, and the open clients' heap (time, bits, key, client)."""

    heap_time: np.ndarray
    heap_bits: np.ndarray
    heap_key: np.ndarray
    heap_value: np.ndarray
    heap_created: np.ndarray
    event_i: np.ndarray
    event_f: np.ndarray
    open_time: np.ndarray
    open_bits: np.ndarray
    open_key: np.ndarray
    open_client: np.ndarray


class Records(NamedTuple):
    """Attempt, request and concurrency records, and the per-second series."""

    attempt_i: np.ndarray
    attempt_f: np.ndarray
    request_i: np.ndarray
    request_f: np.ndarray
    conc_time: np.ndarray
    conc_i: np.ndarray
    series_i: np.ndarray
    series_f: np.ndarray


#: The loop's argument groups, in its order (loop.run).
GROUPS = (Tables, Supplies, Queue, Records)

# --------------------------------------------------------------------------- return codes
DONE = 0
NEED_RANDOM = 1  #: a random-number buffer may run out within the next event
NEED_ARRIVALS = 2  #: the arrival buffer of client ``state_i[NEED]`` is used up
NEED_EVENTS = 3  #: the event heap or its event slots are full
NEED_RECORDS = 4  #: the record columns are full
NEED_BINS = 5  #: the time-series bins end before the current time
NEED_QUOTA = 6  #: quota windows are known only up to before the current time

# --------------------------------------------------------------------------- fixed_i header
(T_NC, T_NR, T_NF, T_RECORD, T_CONSUME, T_QCT, T_MRU, T_UNRES_CAP, T_S_OVER,
 # tables in fixed_i
 T_O_STATUS, T_O_ROUTE_FN, T_O_CHAIN, T_O_QLIMIT, T_O_CLI, T_O_CROUTES, T_O_RETRY_ON, T_O_FUN,
 T_O_SCONST, T_O_PROC, T_O_UCLIENT,
 # tables in fixed_f
 T_O_CLIF, T_O_CCUM, T_O_FUNF, T_O_ROUTE_TO, T_O_BUCKET, T_O_SVAL, T_O_USPAWN,
 # tables in state_i
 T_O_QSTATE, T_O_CTOK, T_O_ARR, T_O_RSTATE, T_O_FSTATE, T_O_GATT, T_O_GREQ, T_O_GFN, T_O_GGW, T_O_AHIST,
 T_O_RHIST,
 # tables in state_f
 T_O_BSTATE, T_O_USTATE, T_O_GLAT, T_O_CUBE,
 N_TI_HDR) = range(43)

# fixed_f scalars
TF_DURATION, TF_MAX_LIFE, N_TF_HDR = range(3)

# state_i scalars
(EID,  # next event id (SimPy's Environment._eid)
 HEAP_N,  # events in the heap
 FREE_N,  # free event slots
 N_ATT,  # attempts so far
 N_REQ,  # logical requests so far (the next request id)
 N_CONC,  # concurrency records so far
 CONT_OPEN,  # open client whose arrival loop is under way (-1: none)
 UNRES,  # concurrency in use in the unreserved pool
 NEED,  # argument of the last NEED_* code
 ACCT,  # account-wide concurrency
 OHEAP_N,  # open clients' timeouts in their heap
 BUDGET,  # draws any stream can still give: the fewest left in a buffer, minus draws since
 N_SI_HDR) = range(13)

#: The most values one event can draw (route, overhead, duration, init, error coin,
#: retry jitter, wait, idle timeout); the loop asks for a refill below this.
MAX_DRAWS = 16

# state_f scalars
NOW, END_MAX, QEND_MIN, N_SF_HDR = range(4)

# one gateway chain per (client, route): [length, (kind, index, cause) * MAX_CHAIN]
MAX_CHAIN = 5
CH_W = 1 + 3 * MAX_CHAIN
LEVEL_BUCKET, LEVEL_QUOTA = 0, 1

# Client and function rows: each tuple names the arrays of inputs.flatten that make
# the row's columns, in order (engine.py packs them from it), and the loop's column
# constants are looked up in it, so neither can drift from the other.
CLIENT_INT = ("c_nroutes", "c_retry", "c_max_att", "c_full_jitter", "c_has_q", "c_qcap", "c_qcost", "c_qtcost",
              "c_qinc", "c_wait_kind", "c_sroute", "c_sjit", "c_swait")
(CI_NROUTES, CI_RETRY, CI_MAXATT, CI_FULLJIT, CI_HASQ, CI_QCAP, CI_QCOST, CI_QTCOST, CI_QINC, CI_WAITKIND, CI_SROUTE,
 CI_SJIT, CI_SWAIT) = (CLIENT_INT.index(k) for k in (
    "c_nroutes", "c_retry", "c_max_att", "c_full_jitter", "c_has_q", "c_qcap", "c_qcost", "c_qtcost", "c_qinc",
    "c_wait_kind", "c_sroute", "c_sjit", "c_swait"))
N_CI = len(CLIENT_INT)
CLIENT_FLOAT = ("c_timeout", "c_delay", "c_base", "c_cap", "c_wait_a", "c_wait_b")
CF_TIMEOUT, CF_DELAY, CF_BASE, CF_CAP, CF_WAIT_A, CF_WAIT_B = (CLIENT_FLOAT.index(k) for k in (
    "c_timeout", "c_delay", "c_base", "c_cap", "c_wait_a", "c_wait_b"))
N_CF = len(CLIENT_FLOAT)
#: The last, ``f_rate``, is MAX_RATE columns: the function's request-rate buckets in
#: checking order (simulator.functions.request_rate: reserved, provisioned, account), -1 for none.
FUNCTION_INT = ("f_cap", "f_scaling", "f_ringk", "f_sdur", "f_sinit", "f_scoin", "f_sidle", "f_rate")
FI_CAP, FI_SCALING, FI_RINGK, FI_SDUR, FI_SINIT, FI_SCOIN, FI_SIDLE, FI_RATE = (FUNCTION_INT.index(k) for k in (
    "f_cap", "f_scaling", "f_ringk", "f_sdur", "f_sinit", "f_scoin", "f_sidle", "f_rate"))
MAX_RATE = 3
assert FUNCTION_INT[-1] == "f_rate", "the request-rate columns come last"
N_FI = FI_RATE + MAX_RATE
FUNCTION_FLOAT = ("f_timeout", "f_err", "f_resp")
FF_TIMEOUT, FF_ERR, FF_RESP = (FUNCTION_FLOAT.index(k) for k in ("f_timeout", "f_err", "f_resp"))
N_FF = len(FUNCTION_FLOAT)
# concurrency records: conc_time holds the times, conc_i these rows
C_FUNCTION, C_BUSY = range(2)
# state rows
FS_IDLE_PROV, FS_BUSY_OD, FS_BUSY_PROV, FS_RING_H, FS_RING_N, N_FS = range(6)
QS_USED, QS_ALLOWED, QS_POS, N_QS = range(4)
AR_OFF, AR_POS, AR_LEN, AR_MORE, N_AR = range(5)

# --------------------------------------------------------------------------- events
URGENT = 0
NORMAL = 1
PRI_SHIFT = 56  #: heap key = priority << PRI_SHIFT | event id

# Event types of the main heap's slots. Open clients' next arrivals wait in their own heap
# and releases of execution environments sit in the main heap without a slot
# (heap.push_release): neither has a type.
EV_INIT = 0  #: a process starts (SimPy's Initialize): an open client or a closed user
EV_RESPONSE = 1  #: a response reaches a client with a retry policy
EV_DONE_SIGNAL = 2  #: a response reaches a closed user without retries: it triggers ``done``
EV_DONE = 3  #: the user's ``done`` event: the user resumes
EV_RETRY = 4  #: a retry is sent
EV_USER_WAKE = 5  #: a user's wait_time is over
EV_USER_SPAWN = 6  #: a user's spawn delay is over

# event_i columns (the last one holds the free-slot stack); event_f columns
E_TYPE, E_A, E_RID, E_ROUTE, E_N, E_CAUSE, E_USER, E_COST, E_FREE, N_EV = range(10)
E_START, N_EVF = range(2)

# Record columns, in simulator.results' order: each tuple is the one declaration of its
# array's rows (engine.py names the rows after it), and the loop's row constants below
# are looked up in it, so neither can drift from the other.
RA_INT = ("request", "attempt", "client", "route", "function", "status", "cause", "gateway_status",
          "gateway_cause", "flags", "authorizer_function", "authorizer_cause", "authorizer_flags")
RA_FLOAT = ("time_s", "latency_s", "gateway_latency_s", "integration_latency_s", "init_s", "run_s",
            "authorizer_latency_s", "authorizer_init_s", "authorizer_run_s")
RR_INT = ("client", "route", "attempts", "status", "cause")
RR_FLOAT = ("time_s", "end_s")
(A_REQUEST, A_ATTEMPT, A_CLIENT, A_ROUTE, A_FUNCTION, A_STATUS, A_CAUSE, A_GATEWAY_STATUS, A_GATEWAY_CAUSE, A_FLAGS,
 A_AUTHORIZER_FUNCTION, A_AUTHORIZER_CAUSE, A_AUTHORIZER_FLAGS) = (RA_INT.index(k) for k in (
    "request", "attempt", "client", "route", "function", "status", "cause", "gateway_status", "gateway_cause", "flags",
    "authorizer_function", "authorizer_cause", "authorizer_flags"))
(A_TIME, A_LATENCY, A_GATEWAY_LATENCY, A_INTEGRATION_LATENCY, A_INIT, A_RUN, A_AUTHORIZER_LATENCY, A_AUTHORIZER_INIT,
 A_AUTHORIZER_RUN) = (RA_FLOAT.index(k) for k in (
    "time_s", "latency_s", "gateway_latency_s", "integration_latency_s", "init_s", "run_s", "authorizer_latency_s",
    "authorizer_init_s", "authorizer_run_s"))
R_CLIENT, R_ROUTE, R_ATTEMPTS, R_STATUS, R_CAUSE = (RR_INT.index(k) for k in ("client", "route", "attempts", "status",
                                                                              "cause"))
R_TIME, R_END = (RR_FLOAT.index(k) for k in ("time_s", "end_s"))
COLD = oc.COLD
PROVISIONED = oc.PROVISIONED

# aggregates
G_LAT_ATT_SUM, G_LAT_ATT_MAX, G_LAT_REQ_SUM, G_LAT_REQ_MAX, N_GLAT = range(5)
FN_INV, FN_COLD, FN_THR, FN_ERR, FN_FT, FN_PROV, FN_SPILL, FN_PEAK, N_FN = range(9)
# time-series rows of series_i: account-wide first, then N_TF rows per function
TS_COUNT, TS_4XX, TS_5XX, TS_INTEG_N, TS_ACCT_MAX, TS_ACCT_LAST, N_TS = range(7)
TF_INV, TF_THR, TF_SPILL, TF_CONC_MAX, TF_CONC_LAST, N_TSF = range(6)
# rows of series_f
TS_LAT_MS, TS_INTEG_MS = range(2)
# billing quantities by (function, client, gateway cause)
# (billed ms in all: on-demand + provisioned; OD_INIT bills init, OD_RUN only the run)
CUBE_REQUESTS, CUBE_OD_INIT, CUBE_OD_RUN, CUBE_PROV, CUBE_TRANSFER, CUBE_COUNT, N_CUBE = range(7)

#: Latency histogram: bin 0 holds 0 and anything below 2**HIST_EMIN s; above it each
#: power of two is cut into HIST_SUB equal bins (a bin's midpoint is within 0.4% of
#: every value in it); values from 2**HIST_EMAX s go to the last bin.
HIST_EMIN = -20
HIST_EMAX = 24
HIST_SUB = 128
HIST_BINS = 1 + (HIST_EMAX - HIST_EMIN) * HIST_SUB


class Pack:
    """One flat array of *dtype*: a header of *header* zeros, then tables."""

    def __init__(self, header: int, dtype: type) -> None:
        self.dtype = dtype
        self.parts: list[np.ndarray] = [np.zeros(header, dtype=dtype)]
        self.size = header
        self.offsets: dict[int, int] = {}

    def add(self, key: int, values: object) -> None:
        """Append *values* (flattened, row-major) and note their offset under *key*."""
        arr: np.ndarray = np.ascontiguousarray(values, dtype=self.dtype).ravel()
        self.offsets[key] = self.size
        self.parts.append(arr)
        self.size += len(arr)

    def build(self) -> np.ndarray:
        return np.concatenate(self.parts)
