//! A short list kept inside its owner, moving to the heap only past `N` items.
//!
//! Statements name one to three tables and carry zero to two hints, so the
//! classifier's results fit inline and the hot path does not allocate. The
//! items stay contiguous in both states, so callers get a plain slice (the
//! rules crate takes `&[TableName]`). Written out instead of taking `smallvec`
//! for the few lines it needs and no `unsafe`.

#[derive(Clone, Debug)]
pub(super) enum InlineVec<T: Copy, const N: usize> {
    Inline { items: [T; N], len: usize },
    Heap(Vec<T>),
}

impl<T: Copy, const N: usize> InlineVec<T, N> {
    /// `filler` only occupies unused inline slots; it is never observed.
    pub(super) const fn new(filler: T) -> Self {
        InlineVec::Inline {
            items: [filler; N],
            len: 0,
        }
    }

    pub(super) fn as_slice(&self) -> &[T] {
        match self {
            InlineVec::Inline { items, len } => &items[..*len],
            InlineVec::Heap(items) => items,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(super) fn push(&mut self, item: T) {
        match self {
            InlineVec::Inline { items, len } if *len < N => {
                items[*len] = item;
                *len += 1;
            }
            InlineVec::Inline { items, .. } => {
                let mut heap = Vec::with_capacity(N * 2);
                heap.extend_from_slice(items);
                heap.push(item);
                *self = InlineVec::Heap(heap);
            }
            InlineVec::Heap(items) => items.push(item),
        }
    }

    pub(super) fn truncate(&mut self, new_len: usize) {
        match self {
            InlineVec::Inline { len, .. } => *len = (*len).min(new_len),
            InlineVec::Heap(items) => items.truncate(new_len),
        }
    }

    pub(super) fn clear(&mut self) {
        self.truncate(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_to_the_heap_keeping_order() {
        let mut list: InlineVec<u32, 2> = InlineVec::new(0);
        for i in 1..=5 {
            list.push(i);
        }
        assert_eq!(list.as_slice(), &[1, 2, 3, 4, 5]);
        assert!(matches!(list, InlineVec::Heap(_)));
        list.truncate(1);
        assert_eq!(list.as_slice(), &[1]);
        list.clear();
        assert_eq!(list.len(), 0);
    }
}
