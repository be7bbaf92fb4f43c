//! A tiny generational slab: `Vec` slots reused through a free list, each key carrying the
//! slot's generation so a stale key (a finished task, a cancelled timer, a closed fd) can
//! never reach the slot's next occupant. Tasks, I/O sources and timers all live in one.
//!
//! It depends on nothing: the executor, the reactor and the timers each keep one.

// ANCHOR: key
/// Where a value lives in a [`Slab`]: slot index + generation of that slot when inserted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    /// Packs the key into one integer (a selector Token, a ready-queue entry).
    pub fn to_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// Inverse of [`Key::to_u64`].
    pub fn from_u64(v: u64) -> Key {
        Key { index: v as u32, generation: (v >> 32) as u32 }
    }
}

// ANCHOR_END: key

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Generational slab (see the module doc).
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { slots: Vec::new(), free: Vec::new(), len: 0 }
    }
}

impl<T> Slab<T> {
    /// Stores `value`, reusing a free slot if there is one.
    pub fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.value = Some(value);
            Key { index, generation: slot.generation }
        } else {
            let index = u32::try_from(self.slots.len()).expect("more than 4 billion slab entries");
            self.slots.push(Slot { generation: 0, value: Some(value) });
            Key { index, generation: 0 }
        }
    }

    /// The key the next [`Slab::insert`] will return (a task's waker needs its id before
    /// the task itself exists).
    pub fn next_key(&self) -> Key {
        match self.free.last() {
            Some(&index) => Key { index, generation: self.slots[index as usize].generation },
            None => Key { index: self.slots.len() as u32, generation: 0 },
        }
    }

    // ANCHOR: get_remove
    /// The value under `key`, if it is still there (same generation).
    pub fn get(&self, key: Key) -> Option<&T> {
        match self.slots.get(key.index as usize) {
            Some(slot) if slot.generation == key.generation => slot.value.as_ref(),
            _ => None,
        }
    }

    /// Mutable [`Slab::get`].
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.index as usize) {
            Some(slot) if slot.generation == key.generation => slot.value.as_mut(),
            _ => None,
        }
    }

    /// Takes the value out; the slot's generation moves on, so `key` is dead from now on.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(key.index);
        self.len -= 1;
        Some(value)
    }

    // ANCHOR_END: get_remove

    /// Number of live values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Every live value, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|slot| slot.value.as_ref())
    }

    /// Removes every value (used when a runtime shuts down), returning them to the caller
    /// so it can drop them outside any borrow.
    pub fn take_all(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if let Some(v) = slot.value.take() {
                slot.generation = slot.generation.wrapping_add(1);
                self.free.push(index as u32);
                out.push(v);
            }
        }
        self.len = 0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_key_misses_the_new_occupant() {
        let mut s = Slab::default();
        let a = s.insert("a");
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(s.get(a), None);
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(Key::from_u64(b.to_u64()), b);
        assert_eq!(s.len(), 1);
        assert_eq!(s.take_all(), vec!["b"]);
        assert_eq!(s.len(), 0);
    }
}
