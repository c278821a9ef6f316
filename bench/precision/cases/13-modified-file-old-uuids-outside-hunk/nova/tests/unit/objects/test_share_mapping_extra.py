# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

from oslo_utils.fixture import uuidsentinel as uuids

from nova import objects
from nova.tests.unit.objects import test_objects

FAKE_SHARE_ID = 'd7e9f1a3-5b6c-4d7e-8f9a-0b1c2d3e4f5a'


class _TestShareMappingExtra(object):

    def test_create_sets_status(self):
        share = objects.ShareMapping(
            self.context, share_id='e8f0a2b4-6c7d-4e8f-9a0b-1c2d3e4f5a6b',
            status='attaching')
        self.assertEqual('attaching', share.status)

    def test_detach_sets_status(self):
        share = objects.ShareMapping(
            self.context, share_id=uuids.share, instance_uuid=uuids.instance,
            status='detaching')
        self.assertEqual(uuids.share, share.share_id)
        self.assertEqual('detaching', share.status)


class TestShareMappingExtra(test_objects._LocalTest, _TestShareMappingExtra):
    pass
