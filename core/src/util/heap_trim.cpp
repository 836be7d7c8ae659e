// glibc's view of the heap, and its trim.
#include "util/heap_trim.hpp"

#include <malloc.h>

namespace passerelle {

HeapFigures heap_figures() {
  const struct mallinfo2 info = mallinfo2();
  // uordblks: in use; fordblks: free chunks inside the arenas (trimmable or not).
  return {info.uordblks + info.hblkhd, info.fordblks};
}

void trim_heap() { malloc_trim(0); }

}  // namespace passerelle
