/*
 * ub_hash internals for families layered on the hash table (lru_hash.c). Such a family
 * keeps per-element state after the table (from ub_hash_end()), indexed like the table's
 * elements, and serialises its own writers; the table's lookups stay lock-free.
 */
#ifndef UB_MAPS_HASH_H
#define UB_MAPS_HASH_H
#include "maps/map.h"

/* Elements in the pool of a table of this shape (from a header: for data_size). */
uint32_t ub_hash_nelems_of(const struct ub_shm_hdr *h);
/* The same for a bound map (process-local, never re-read from the file). */
uint32_t ub_hash_nelems(const struct ub_map *map);
/* The first byte after the table's part of the data region. */
uint8_t *ub_hash_end(const struct ub_map *map);
/* The element holding address p (a value from lookup), or UINT32_MAX. */
uint32_t ub_hash_elem_index(const struct ub_map *map, const void *p);
/* The key stored in element idx, or NULL if idx is out of range. */
const void *ub_hash_elem_key(const struct ub_map *map, uint32_t idx);
/*
 * Repairs the table after a writer died holding one of its locks (hash.c explains what is
 * repaired), calling each(arg, idx) for every element linked in it while all the table's
 * locks are held: a family layered on the table rebuilds its own state from that.
 */
void ub_hash_repair(struct ub_map *map, void (*each)(void *arg, uint32_t idx), void *arg);
/* A file opened for writing that passed every check: takes over the locks of dead holders
 * and repairs (what validate does for a plain hash table, after its checks). */
void ub_hash_recover(struct ub_map *map);

#endif
