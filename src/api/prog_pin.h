/*
 * ub_prog_pin: a pinned program is a file (see prog_pin.c for the layout): BPF_OBJ_PIN of a
 * program fd writes it, BPF_OBJ_GET of it loads the program again through the verifier.
 */
#ifndef UB_API_PROG_PIN_H
#define UB_API_PROG_PIN_H

/* Writes the program behind prog_fd at real (user_path is the path as the caller gave it,
 * the base of the PATH.maps/ names stored in the file), with the file mode `mode`. */
int ub_prog_pin_write(int prog_fd, const char *user_path, const char *real, unsigned mode);
/* Notes that this process pinned (or opened) the map whose file is map_file_fd at this
 * path: pinning a program that uses the map then records this path rather than pinning the
 * map again beside the program (as long as the path still holds the map). */
void ub_prog_pin_note_map(int map_file_fd, const char *user_path, const char *real);
/* Whether the open file fd starts like a pinned program. */
int ub_prog_pin_is(int fd);
/* Loads the pinned program in the open file fd (named real in messages): a new program
 * fd, or -errno with uebpf_last_error() saying where and why. */
int ub_prog_pin_open(int fd, const char *real);

#endif
